"""Hardware detection against the repository's configs/pricing.yaml: every GPU teams rent maps to its key,
CPUs by core count, unknown devices stop with the device and the file to edit, and the override wins."""

from pathlib import Path

import pytest

from baseweight_assets import hardware
from baseweight_assets.config.loader import load_model_file
from baseweight_assets.config.schema import HardwareRate, PricingConfig
from baseweight_assets.cost.pricing import SCENARIOS, hourly_rate
from baseweight_assets.hardware import UnknownHardwareError, detect_hardware, gpu_hardware_key

REPO = Path(__file__).resolve().parents[2]

# torch.cuda.get_device_name() strings as the drivers report them -> the pricing key they must map to
DEVICE_NAMES = {
    "NVIDIA H100 80GB HBM3": "H100-SXM",
    "NVIDIA H100 PCIe": "H100-PCIe",
    "NVIDIA H200": "H200",
    "NVIDIA A100-SXM4-40GB": "A100-40GB",
    "NVIDIA A100-PCIE-40GB": "A100-40GB",
    "NVIDIA A100-SXM4-80GB": "A100-80GB",
    "NVIDIA A100 80GB PCIe": "A100-80GB",
    "NVIDIA L4": "L4",
    "NVIDIA L40S": "L40S",
    "NVIDIA A10G": "A10G",
    "NVIDIA GeForce RTX 4090": "RTX-4090",
}


@pytest.fixture(scope="module")
def pricing() -> PricingConfig:
    return load_model_file(REPO / "configs" / "pricing.yaml", PricingConfig)


@pytest.mark.parametrize("name,key", sorted(DEVICE_NAMES.items()))
def test_every_rented_gpu_maps_to_its_pricing_key(pricing, name, key):
    assert gpu_hardware_key(pricing, name) == key
    assert gpu_hardware_key(pricing, name.lower() + "  ") == key  # case and trailing blanks do not matter


def test_repo_rates_are_sourced_ordered_and_cover_the_gpus_teams_rent(pricing):
    assert set(DEVICE_NAMES.values()) <= set(pricing.hardware)
    for key, rate in [*pricing.hardware.items(), ("cpu_per_vcpu", pricing.cpu_per_vcpu)]:
        assert rate.low <= rate.mid <= rate.high, key
        # a rate names where it comes from (a dated source) or says it is an assumption
        assert "ASSUMPTION" in rate.source or "20" in rate.source, key
        assert rate.checked_at[:2] == "20", key
    # CPU hosts are priced per vCPU: the 2-core default keeps its earlier figures, 16 cores cost 8x that
    assert [hourly_rate(pricing, "cpu-2core", s) for s in SCENARIOS] == pytest.approx([0.03, 0.05, 0.10])
    assert hourly_rate(pricing, "cpu-16core", "mid") == pytest.approx(8 * 0.05)


def test_unknown_gpu_names_the_device_and_the_file_to_edit(pricing):
    with pytest.raises(UnknownHardwareError) as err:
        gpu_hardware_key(pricing, "NVIDIA B200")
    msg = str(err.value)
    assert "'NVIDIA B200'" in msg and "configs/pricing.yaml" in msg and "device_names" in msg and "override" in msg
    # patterns match the whole name: an L40 (no S) is not an L40S nor an L4, an H100 NVL is not an SXM
    for near_miss in ("NVIDIA L40", "NVIDIA H100 NVL", "NVIDIA A10"):
        with pytest.raises(UnknownHardwareError, match="matches no hardware entry"):
            gpu_hardware_key(pricing, near_miss)


def test_ambiguous_patterns_are_an_error(pricing):
    rate = HardwareRate(low=1, mid=1, high=1, source="t", checked_at="t", device_names=["NVIDIA L4.*"])
    clash = pricing.model_copy(update={"hardware": {**pricing.hardware, "L4-any": rate}})
    with pytest.raises(UnknownHardwareError, match=r"several hardware entries \['L4', 'L4-any'\]"):
        gpu_hardware_key(clash, "NVIDIA L4")


def test_detect_maps_cuda_device_cpu_cores_and_override(pricing, monkeypatch):
    monkeypatch.setattr(hardware, "_cuda_device", lambda: ("NVIDIA H100 80GB HBM3", 8))
    got = detect_hardware(pricing)
    assert got == {"hardware": "H100-SXM", "device": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 8,
                   "source": "detected"}
    # the override wins over detection and is checked against the pricing config
    assert detect_hardware(pricing, override="H200")["hardware"] == "H200"
    assert detect_hardware(pricing, override="H200")["source"] == "override"
    with pytest.raises(UnknownHardwareError, match=r"override 'TPU-v9'.*configs/pricing.yaml"):
        detect_hardware(pricing, override="TPU-v9")

    monkeypatch.setattr(hardware, "_cuda_device", lambda: ("NVIDIA B200", 1))
    with pytest.raises(UnknownHardwareError, match="'NVIDIA B200'"):
        detect_hardware(pricing)
    assert detect_hardware(pricing, override="cpu-4core")["hardware"] == "cpu-4core"  # the way out

    monkeypatch.setattr(hardware, "_cuda_device", lambda: None)
    monkeypatch.setattr(hardware, "usable_cores", lambda: 6)
    got = detect_hardware(pricing)
    assert got["hardware"] == "cpu-6core" and got["device"] == "cpu" and got["source"] == "detected"


def test_detect_defaults_to_the_repo_pricing_file(monkeypatch):
    monkeypatch.setattr(hardware, "_cuda_device", lambda: ("NVIDIA L40S", 1))
    assert detect_hardware()["hardware"] == "L40S"
