"""Unit tests of the individual parsers and of the section framing."""

from __future__ import annotations

import pytest

from axis.drivers.facts.errors import FactMissing
from axis.drivers.facts.parse_common import parse_df, parse_lspci, parse_nvidia
from axis.drivers.facts.parse_linux import parse_cgroup_limit, parse_cpu, parse_virt
from axis.drivers.facts.parse_macos import (parse_loadavg_sysctl, parse_pmset, parse_swapusage,
                                            parse_vm_stat, vm_stat_available)
from axis.drivers.facts.parse_net import parse_ifconfig
from axis.drivers.facts.pressure import memory_pressure
from axis.drivers.facts import parse_facts
from tests.factskit import FIXTURES, Z440_LSPCI, boundary_of, parse, section

MAC = (FIXTURES / "macos-14-arm.txt").read_text()


# --- the page-size bug of the earlier tool ------------------------------------------------

def test_vm_stat_page_size_comes_from_the_header() -> None:
    f16k = parse(MAC)
    f4k = parse(MAC.replace("page size of 16384 bytes", "page size of 4096 bytes"))
    assert f16k.memory.page_size_bytes == 16384
    assert f16k.memory.available_bytes == (6472 + 710941) * 16384  # free + inactive pages
    assert f16k.memory.available_bytes == 4 * f4k.memory.available_bytes
    # with the 4096 assumption this 32 GiB M1 Pro (34 % available) would look short of memory
    assert f4k.memory.pressure == "medium" and f16k.memory.pressure == "none"


def test_vm_stat_without_header_is_absent_not_guessed() -> None:
    broken = MAC.replace("Mach Virtual Memory Statistics: (page size of 16384 bytes)\n", "")
    f = parse(broken)
    assert f.memory is None and "page size" in f.missing["memory"]
    assert f.status == "partial"


def test_vm_stat_counts() -> None:
    ps, counts = parse_vm_stat(["Mach Virtual Memory Statistics: (page size of 4096 bytes)",
                                "Pages free:  10.", "Pages inactive:   5.",
                                '"Translation faults":  99.'])
    assert ps == 4096 and counts["Translation faults"] == 99
    assert vm_stat_available(ps, counts) == 15 * 4096


# --- pressure scale ---------------------------------------------------------------------

@pytest.mark.parametrize("avail,psi,vm,expected", [
    (50, None, None, "none"), (19, None, None, "low"), (9, None, None, "medium"),
    (4, None, None, "high"), (50, 0.0, None, "none"), (50, 0.01, None, "low"),
    (50, 5.0, None, "medium"), (50, 15.0, None, "high"), (4, 0.5, None, "high"),
    (50, None, 1, "none"), (50, None, 2, "medium"), (50, None, 4, "high"), (15, None, 2, "medium"),
])
def test_pressure_scale(avail: int, psi: float | None, vm: int | None, expected: str) -> None:
    level, reason = memory_pressure(avail, 100, psi_avg10=psi, vm_level=vm)
    assert level == expected and reason


# --- nvidia-smi -------------------------------------------------------------------------

def test_nvidia_na_and_not_supported() -> None:
    gpus = parse_nvidia(["Tesla T4, 15360, [N/A], [Not Supported]", "NVIDIA L4, 23034, 0, 0"])
    assert gpus[0].memory_total_bytes == 15360 * 2**20
    assert gpus[0].memory_used_bytes is None and gpus[0].utilization_percent is None
    assert gpus[1].utilization_percent == 0.0


def test_nvidia_mig_mode_utilisation_is_na() -> None:
    # a real row: H100 in MIG mode, nvidia_gpu_exporter's capture (README: Sources)
    gpus = parse_nvidia(["NVIDIA H100 80GB HBM3, 81559, 59, [N/A]"])
    assert [(g.name, g.memory_total_bytes, g.memory_used_bytes, g.utilization_percent) for g in gpus] == [
        ("NVIDIA H100 80GB HBM3", 81559 * 2**20, 59 * 2**20, None)]


def test_nvidia_row_under_load() -> None:
    # a real row: RTX 4080 SUPER under NVENC load, nvidia_gpu_exporter's capture (README: Sources)
    gpus = parse_nvidia(["NVIDIA GeForce RTX 4080 SUPER, 16376, 1474, 7"])
    assert [(g.name, g.memory_total_bytes, g.memory_used_bytes, g.utilization_percent) for g in gpus] == [
        ("NVIDIA GeForce RTX 4080 SUPER", 16376 * 2**20, 1474 * 2**20, 7.0)]


def test_nvidia_driver_failure_is_a_reason() -> None:
    b = "9" * 32
    out = (f"@@axis:{b}:facts v=2 os=Linux\n" + section(b, "nvidia", "NVIDIA-SMI has failed because it "
           "couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver "
           "is installed and running.\n", rc=9) + f"@@axis:{b}:done\n")
    f = parse(out)
    assert f.gpus == [] and "couldn't communicate" in f.missing["gpus"]
    assert "(exit 9)" in f.missing["gpus"]


def test_lspci_fallback_keeps_compute_gpus_only() -> None:
    gpus = parse_lspci([
        "01:00.0 VGA compatible controller: NVIDIA Corporation GA102 [GeForce RTX 3090] (rev a1)",
        "03:00.0 VGA compatible controller: ASPEED Technology, Inc. ASPEED Graphics Family (rev 41)",
        "00:02.0 VGA compatible controller: Intel Corporation UHD Graphics 630 (rev 02)",
        "0a:00.0 VGA compatible controller: Advanced Micro Devices, Inc. [AMD/ATI] Navi 21 (rev c1)",
    ])
    assert [(g.vendor, g.memory_total_bytes) for g in gpus] == [("nvidia", None), ("amd", None)]


def test_lspci_real_two_nvidia_boards_audio_functions_skipped() -> None:
    # real lines: HP Z440 `lspci | grep -i nvidia` (README: Sources)
    gpus = parse_lspci(list(Z440_LSPCI))
    assert [(g.name, g.vendor, g.source) for g in gpus] == [
        ("NVIDIA Corporation GF119 [NVS 310]", "nvidia", "lspci"),
        ("NVIDIA Corporation GM206 [GeForce GTX 960]", "nvidia", "lspci")]


# --- locale robustness ----------------------------------------------------------------

def test_df_ignores_header_language_and_spaces_in_device() -> None:
    rows = parse_df([
        "Dateisystem    1024-Blöcke  Benutzt Verfügbar Kapazität Eingehängt auf",
        "/dev/sda1   100 40 60 40% /",
        "map auto_home 0 0 0 100% /System/Volumes/Data/home",
    ])
    assert [(r.device, r.mount, r.size_bytes) for r in rows] == [
        ("/dev/sda1", "/", 102400), ("map auto_home", "/System/Volumes/Data/home", 0)]


def test_decimal_commas_are_tolerated() -> None:
    assert parse_loadavg_sysctl("{ 2,31 2,05 1,98 }") == (2.31, 2.05, 1.98)
    assert parse_swapusage("total = 2048,00M  used = 1107,25M  free = 940,75M") == (
        2048 * 2**20, int(1107.25 * 2**20))


def test_pmset_keys_with_spaces_and_parentheses() -> None:
    kv = parse_pmset([" Sleep On Power Button 1",
                      " sleep                1 (sleep prevented by sharingd, powerd)",
                      " SleepDisabled\t\t1"])
    assert kv == {"Sleep On Power Button": "1", "sleep": "1", "SleepDisabled": "1"}


# --- Linux bits -----------------------------------------------------------------------

def test_cpu_arm_server_uses_lscpu_model_and_pi_board_comes_last() -> None:
    arm = parse_cpu(["online: 80", "processors: 80", "lscpu Model name: Neoverse-N1",
                     "lscpu Socket(s): 1", "lscpu Core(s) per socket: 80"])
    assert (arm.model, arm.cores, arm.physical_cores) == ("Neoverse-N1", 80, 80)
    pi = parse_cpu(["online: 4", "Model\t\t: Raspberry Pi 4 Model B Rev 1.4",
                    "lscpu Model name: Cortex-A72"])
    assert pi.model == "Cortex-A72"
    with pytest.raises(FactMissing):
        parse_cpu(["online: ", "processors: 0"])


def test_cgroup_limits() -> None:
    assert parse_cgroup_limit(["v2 max"]) is None
    assert parse_cgroup_limit(["v1 9223372036854771712"]) is None
    assert parse_cgroup_limit(["v2 1073741824"]) == 1073741824


def test_virt_hints_without_systemd_detect_virt() -> None:
    v = parse_virt(["containerenv: yes", "cgroup: 0::/machine.slice/libpod-abc.scope"])
    assert v.container == "podman" and v.vm is None
    k = parse_virt(["cgroup: 12:memory:/kubepods/burstable/pod123"])
    assert k.container == "kubernetes"


def test_ifconfig_net_tools_layouts() -> None:
    new = parse_ifconfig([
        "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500",
        "        inet 10.1.2.3  netmask 255.255.0.0  broadcast 10.1.255.255",
        "        inet6 fe80::1  prefixlen 64  scopeid 0x20<link>",
        "lo: flags=73<UP,LOOPBACK,RUNNING>  mtu 65536",
        "        inet 127.0.0.1  netmask 255.0.0.0",
    ])
    old = parse_ifconfig([
        "eth0      Link encap:Ethernet  HWaddr 00:11:22:33:44:55",
        "          inet addr:192.168.0.9  Bcast:192.168.0.255  Mask:255.255.255.0",
        "          inet6 addr: fe80::211:22ff:fe33:4455/64 Scope:Link",
    ])
    assert [(a.address, a.prefix_len, a.scope) for a in new] == [
        ("10.1.2.3", 16, "global"), ("fe80::1", 64, "link")]
    assert [(a.address, a.prefix_len) for a in old] == [
        ("192.168.0.9", 24), ("fe80::211:22ff:fe33:4455", 64)]


# --- framing --------------------------------------------------------------------------

def test_truncated_output_is_partial_with_a_note() -> None:
    text = (FIXTURES / "debian12.txt").read_text()
    cut = text[: text.index(f"@@axis:{boundary_of(text)}:section:meminfo") + 90]
    f = parse(cut)
    assert f.status == "partial"
    assert "memory" in f.missing and "root_disk" not in f.missing
    assert any("before the 'done' marker" in n for n in f.notes)


def test_empty_output() -> None:
    f = parse_facts("", "0" * 32)
    assert f.status == "partial" and set(f.missing) >= {"os", "hostname", "memory"}
