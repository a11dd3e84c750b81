"""The fan-out figures on the test fleet, cold then warm, each against the floor measured in the
same rounds (tools interleaved repetition by repetition, so a change in the machine's load hits
all of them alike).

cold: nothing kept between runs: `axis status` and a no-op `axis apply` with no controller
      running, pyinfra, Ansible with a fresh ControlPath directory per run, `ssh HOST true`.
warm: what each tool keeps between runs: axis beside a running `axis controller` on the same
      state and specs (status through its connections; apply handing the hosts to its pass),
      Ansible reusing its ControlPersist masters in one ControlPath directory.
"""

from __future__ import annotations

from collections.abc import Callable

from bench.peers import PYINFRA_FACTS
from bench.timing import Figure, measure
from bench.tools import Tools
from bench.warm_controller import WarmController

Runs = list[tuple[str, Figure, Callable[[], float]]]


def _measured(runs: Runs, tools: Tools, reps: int) -> dict[str, Figure]:
    measure([(fig, once) for _, fig, once in runs], reps, hosts_cpu=tools.setup.hosts_cpu)
    return {key: fig for key, fig, _ in runs}


def measure_cold(tools: Tools, reps: int, *, peers: bool) -> dict[str, Figure]:
    """The floor, `axis status`, no-op `axis apply` and (with `peers`) pyinfra, Ansible cold and
    `ssh true`, every host converged once first so that the apply has nothing to do."""
    n = tools.setup.n
    tools.axis_apply(expect_unchanged=False)
    runs: Runs = [
        ("floor", Figure("floor (asyncssh, true)", f"python bench/floor.py: {n} connections + `true`, at once"),
         tools.floor),
        ("axis_status", Figure("axis status", f"axis status -o json --jobs {n}"), tools.axis_status),
        ("axis_apply", Figure("axis apply (no-op)", f"axis apply -f specs --jobs {n} -o json"), tools.axis_apply),
    ]
    if peers:
        runs += [
            ("pyinfra_facts", Figure(f"pyinfra {len(PYINFRA_FACTS)} facts",
                                     f"pyinfra inventory.py fact {' '.join(PYINFRA_FACTS)} --parallel {n}"),
             tools.pyinfra_facts),
            ("ansible_setup", Figure("ansible -m setup", f"ansible all -m setup -f {n} (fresh ControlPath)"),
             tools.ansible_setup),
            ("ansible_setup_min", Figure("ansible setup min", f"ansible all -m setup -a gather_subset=min -f {n}"),
             lambda: tools.ansible_setup("min")),
            ("ansible_check", Figure("ansible-playbook --check",
                                     f"ansible-playbook --check -f {n} (copy, gather_facts: false; fresh ControlPath)"),
             tools.ansible_check),
            ("ssh_true", Figure("ssh true fan-out", f"ssh -F ssh_config HOST true, all {n} at once"), tools.ssh_fanout),
        ]
    return _measured(runs, tools, reps)


def measure_warm(tools: Tools, reps: int, *, peers: bool) -> dict[str, Figure]:
    """The floor, then axis's commands beside a running controller (started here, stopped at the
    end, on errors and on Ctrl-C) and (with `peers`) Ansible on its kept ControlPersist masters.
    The untimed warm-up round lets the controller open its connections and Ansible its masters."""
    n = tools.setup.n
    ansible_masters: dict[str, list[int]] = {"ansible_setup_warm": [], "ansible_check_warm": []}
    runs: Runs = [
        ("floor_warm", Figure("floor (asyncssh, true)", f"python bench/floor.py: {n} connections + `true`, at once"),
         tools.floor),
        ("axis_status_warm", Figure("axis status (warm)", f"axis status -o json --jobs {n}, a controller running"),
         tools.axis_status),
        ("axis_apply_warm", Figure("axis apply (no-op, warm)",
                                   f"axis apply -f specs --jobs {n} -o json, handed to the running controller"),
         tools.axis_apply_handed),
    ]
    if peers:
        runs += [
            ("ansible_setup_warm", Figure("ansible -m setup (warm)",
                                          f"ansible all -m setup -f {n} (kept ControlPath, ControlPersist 60s)"),
             lambda: tools.ansible_setup(warm=True, masters=ansible_masters["ansible_setup_warm"])),
            ("ansible_check_warm", Figure("ansible-playbook --check (warm)",
                                          f"ansible-playbook --check -f {n} (kept ControlPath, ControlPersist 60s)"),
             lambda: tools.ansible_check(warm=True, masters=ansible_masters["ansible_check_warm"])),
        ]
    controller = WarmController(tools.axis_cmd("controller", "--watch", str(tools.specs), "--jobs", str(n)),
                                tools.state, tools.setup.work / "controller.log")
    try:
        with controller:
            print(f"  axis controller running (pid {controller.proc.pid if controller.proc else '?'})", flush=True)
            for key in ("axis_status_warm", "axis_apply_warm"):  # the controller does their work: its CPU is theirs
                next(fig for k, fig, _ in runs if k == key).server_cpu = controller.cpu_seconds
            figures = _measured(runs, tools, reps)
            socket = controller.socket.exists()
            path = tools.status_path()
    finally:
        tools.close_masters(tools.warm_control)
    print(f"  the controller's socket {'was' if socket else 'was not'} there; `axis --debug status`: {path}",
          flush=True)
    for key in ("axis_status_warm", "axis_apply_warm"):
        figures[key].extra["controller_socket"] = socket
    figures["axis_status_warm"].extra["status_path"] = path
    for key, masters in ansible_masters.items():
        if key in figures:
            # Live masters before each run, the warm-up's first: N from then on means every host warm.
            figures[key].extra["live_masters_before"] = masters
    return figures
