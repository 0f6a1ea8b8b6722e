"""The host folder the platform owns for what the sandbox uids must reach.

bubblewrap runs as a slot uid, so every folder above the kernel runtime and above the model
gateway's socket directory must let other uids through. Folders above a checkout are not
ours to loosen (a home directory, a 0700 temporary folder): both live under
/var/lib/open-science-training instead, one folder per checkout, so that several checkouts
on one host never share a runtime or a gateway socket.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from sandbox.limits import SandboxInfraError

STATE_ROOT = Path("/var/lib/open-science-training")
CHECKOUT = Path(__file__).resolve().parent.parent


def state_dir() -> Path:
    """`SANDBOX_STATE_DIR`, else /var/lib/open-science-training/<checkout>-<hash of its path>.

    Without root there are no slot uids (kernels run as this user, SANDBOX_INSECURE_LOCAL=1):
    the checkout's own var/sandbox then does.
    """
    configured = os.environ.get("SANDBOX_STATE_DIR")
    if configured:
        return Path(configured).absolute()
    if os.geteuid() != 0:
        return CHECKOUT / "var" / "sandbox"
    digest = hashlib.sha256(str(CHECKOUT).encode()).hexdigest()[:10]
    return STATE_ROOT / f"{CHECKOUT.name}-{digest}"


def closed_folder(path: Path) -> Path | None:
    """The highest folder of `path` (itself included) that other uids cannot traverse."""
    path = path.absolute()
    for folder in [*reversed(path.parents), path]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def shared_dir(path: Path) -> Path:
    """Create `path` for the sandbox uids to reach: the folders this makes are 0755; a folder
    above it that shuts other uids out is reported (SandboxInfraError), never loosened."""
    path = path.absolute()
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            folder.mkdir(exist_ok=True)
            folder.chmod(0o755)  # whatever the umask: other uids pass through
    if os.geteuid() == 0 and (closed := closed_folder(path)) is not None:
        raise SandboxInfraError(
            f"{path} is not reachable by the sandbox uids: {closed} does not let other users "
            "through. Use a folder they can reach (SANDBOX_STATE_DIR, GATEWAY_SOCKET_DIR)."
        )
    return path
