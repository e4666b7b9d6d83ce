import multiprocessing
import sys

if __name__ == "__main__":
    # In the PyInstaller bundle the report process (phms_client.reports.bounded) is this
    # same program started again; freeze_support() runs it and exits before any window.
    multiprocessing.freeze_support()

    from phms_client.app import main

    sys.exit(main())
