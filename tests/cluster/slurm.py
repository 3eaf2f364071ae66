"""A single-node SLURM cluster on localhost, with real accounting, for the tests.

    with local_cluster(folder) as env:      # env: os.environ + SLURM_CONF
        subprocess.run(["sinfo"], env=env)

Needs root and Debian's packages ``slurm-wlm munge slurmdbd mariadb-server``
(`.ci/run` installs them).  Brings up munged, MariaDB, slurmdbd (accounting,
so that ``sacct`` works as on a real site), slurmctld and slurmd, each with
its state, logs and PID under ``folder``, and stops every daemon it started,
by PID, when the block exits, also on failure.

Runnable by hand: ``python tests/cluster/slurm.py up /tmp/cluster`` prints the
environment to export and waits until interrupted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurmdbd", "munged", "mariadbd", "sacctmgr", "sbatch")
CLUSTER = "mlpsweep"
DB_PASSWORD = "mlpsweep-ci"


SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def available() -> str | None:
    """None when a cluster can be started here, else why not."""
    if os.geteuid() != 0:
        return "needs root"
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.is_symlink():
        return f"{SYSTEM_CONF} exists: this machine has a SLURM of its own, which the tests leave alone"
    missing = [p for p in PACKAGES if not (shutil.which(p) or Path(f"/usr/sbin/{p}").exists())]
    if missing:
        return "not installed: " + ", ".join(missing) + " (apt-get install slurm-wlm munge slurmdbd mariadb-server)"
    return None


def _exe(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _wait(check, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def _ok(cmd, env=None) -> bool:
    return subprocess.run(cmd, env=env, capture_output=True).returncode == 0


def _memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        total_kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
    return int(total_kb / 1024 * 0.8)


def write_configs(root: Path) -> dict:
    for sub in ("state", "spool", "log", "run", "db", "mysql"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    cpus = os.cpu_count() or 1
    slurm_conf = root / "slurm.conf"
    slurm_conf.write_text(f"""\
ClusterName={CLUSTER}
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobCompType=jobcomp/none
ReturnToService=2
SchedulerType=sched/backfill
MinJobAge=300
NodeName=localhost CPUs={cpus} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    dbd = root / "slurmdbd.conf"
    dbd.write_text(f"""\
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile={root}/run/slurmdbd.pid
LogFile={root}/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=slurm
StoragePass={DB_PASSWORD}
StorageLoc=slurm_acct_db
""")
    dbd.chmod(0o600)
    env = dict(os.environ, SLURM_CONF=str(slurm_conf))
    return env


@contextlib.contextmanager
def local_cluster(root):
    root = Path(root)
    env = write_configs(root)
    procs: list[subprocess.Popen] = []
    pidfiles = [Path("/run/munge/munged.pid")]
    logs = {}

    def start(name, args):
        log = open(root / "log" / f"{name}.out", "wb")
        logs[name] = log
        p = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(p)
        return p

    try:
        # The job steps (srun inside a job) read the default location, not SLURM_CONF:
        # the SLURM executor plugin clears SLURM_* variables inside jobs.
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.unlink(missing_ok=True)
        SYSTEM_CONF.symlink_to(env["SLURM_CONF"])
        # munge: authentication between the daemons and the commands
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if not _ok(["munge", "-n"]):
            subprocess.run(["runuser", "-u", "munge", "--", _exe("munged")], check=True)
        _wait(lambda: _ok(["munge", "-n"]), "munged")

        # MariaDB for slurmdbd, in a data directory of our own
        datadir = root / "mysql"
        shutil.chown(datadir, "mysql", "mysql")
        subprocess.run(
            ["mariadb-install-db", "--user=mysql", f"--datadir={datadir}", "--auth-root-authentication-method=socket"],
            check=True,
            capture_output=True,
        )
        sock = root / "run" / "mysqld.sock"
        shutil.chown(root / "run", "mysql", "mysql")
        start(
            "mariadb",
            [
                _exe("mariadbd"),
                "--user=mysql",
                f"--datadir={datadir}",
                f"--socket={sock}",
                f"--pid-file={root / 'run' / 'mariadb.pid'}",
                "--port=3306",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
            ],
        )
        mysql = ["mariadb", f"--socket={sock}", "-uroot"]
        _wait(lambda: _ok(mysql + ["-e", "SELECT 1"]), "MariaDB")
        subprocess.run(
            mysql
            + [
                "-e",
                f"CREATE DATABASE IF NOT EXISTS slurm_acct_db; "
                f"CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '{DB_PASSWORD}'; "
                f"CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
                "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; "
                "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;",
            ],
            check=True,
            capture_output=True,
        )

        start("slurmdbd", [_exe("slurmdbd"), "-D"])
        _wait(lambda: _ok(["sacctmgr", "-n", "list", "cluster"], env), "slurmdbd")
        subprocess.run(["sacctmgr", "-i", "add", "cluster", CLUSTER], env=env, capture_output=True)

        start("slurmctld", [_exe("slurmctld"), "-D", "-c", "-i"])
        _wait(lambda: _ok(["scontrol", "ping"], env), "slurmctld")
        start("slurmd", [_exe("slurmd"), "-D", "-N", "localhost"])
        _wait(
            lambda: (
                "idle" in subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
            ),
            "the node to be idle",
        )
        yield env
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for pidfile in pidfiles:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        for log in logs.values():
            log.close()
        if SYSTEM_CONF.is_symlink():
            SYSTEM_CONF.unlink()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "up":
        sys.exit("usage: python tests/cluster/slurm.py up FOLDER")
    why = available()
    if why:
        sys.exit(f"cannot start a cluster: {why}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the daemons on `kill` too
    with local_cluster(sys.argv[2]) as env:
        print(f"export SLURM_CONF={env['SLURM_CONF']}", flush=True)
        try:
            signal.pause()
        except (KeyboardInterrupt, SystemExit):
            pass
