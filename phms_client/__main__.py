import sys

if __name__ == "__main__":
    # In the PyInstaller bundle the report process (phms_client.reports.bounded) is this
    # same program started again; freeze_support() runs it and exits before any window.
    # (It does nothing in a program that is not frozen: no need to load multiprocessing.)
    if getattr(sys, "frozen", False):
        import multiprocessing

        multiprocessing.freeze_support()

    from phms_client.app import main

    sys.exit(main())
