"""Updating the workstation from the clinic: verify, unpack beside, switch, restart (no Qt).

- :mod:`.manifest`: what IT signs (canonical JSON) and the Ed25519 check against
  the public key of the workstation's site file;
- :mod:`.download`: bytes in, checked against the signed size and SHA-256;
- :mod:`.archive`: a bundle's facts and a bounded, safe unpacking;
- :mod:`.install`: the versions folder, its ``current`` pointer, the restart;
- :mod:`.launcher`: the installed program starts the newest version it finds.

Nothing here touches the versions folder before the download has been checked;
any failure leaves the installed versions and the pointer as they were.
"""
