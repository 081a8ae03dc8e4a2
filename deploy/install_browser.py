"""Make sure Debian's Chromium is present for the browser tests (installs it with apt if not).

Playwright's own browser download does not work on these machines; the tests launch
/usr/bin/chromium instead. Without root or apt the e2e tests skip with a clear reason.
"""

import os
import shutil
import subprocess
import sys

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def main() -> int:
    if os.path.exists(CHROMIUM):
        return 0
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"{CHROMIUM} missing and apt-get unavailable: browser tests will skip")
        return 0
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False)
    if result.returncode != 0:
        print("could not install chromium: browser tests will skip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
