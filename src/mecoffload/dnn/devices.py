"""Device classes, edge servers and uplinks of the DNN split analysis; every constant has its source.

Time of one layer on a processor is the roofline bound (Williams, Waterman, Patterson, CACM 2009):

    t = max( sum_kind 2 * MAC_kind / rate_kind ,  (4 B * params + 8 B * other_elems) / mem_bw )

— multiply-accumulates of each kind at the processor's rate for that kind (FLOP/s; a MAC is 2 FLOP),
or the weights read once per inference (fp32) and each element-wise operation's read + write,
whichever is slower. Rates are vendor peak or vendor-measured GEMM figures, never fitted to a
target: they are upper bounds on what a framework achieves, equally for the device and the server.

Device energy per inference (J) = ``p_compute_w`` x device compute time + the radio's transmit power
x upload time (+ ``p_idle_w`` x the time waiting for the server, optional), as in Neurosurgeon
(Kang et al., ASPLOS 2017, §3 and §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import UserError


@dataclass(frozen=True)
class Processor:
    """Compute rate per layer kind (FLOP/s), memory bandwidth (B/s) and, for devices, power (W)."""

    name: str
    label: str
    rate: dict[str, float]
    mem_bw: float
    p_compute_w: float | None = None
    p_idle_w: float | None = None
    sources: dict[str, str] = field(default_factory=dict)


def _same(rate: float) -> dict[str, float]:
    return {"conv": rate, "dense": rate, "attention": rate}


DEVICES = {
    # NVIDIA Tegra K1 (Jetson TK1 board): Neurosurgeon's mobile platform, the SoC of K1 phones/tablets.
    "tk1": Processor(
        "tk1", "phone SoC: NVIDIA Tegra K1 (Jetson TK1), Neurosurgeon's mobile platform",
        _same(290e9),  # SGEMM 290 GFLOP/s measured by NVIDIA (Jetson TK1 vs Tesla K40 table, GTC 2014; peak 326)
        14.9e9,        # 2 GB DDR3L, 64-bit: 14.9 GB/s (same NVIDIA table)
        p_compute_w=11.0,  # "Power (CPU + GPU) < 11 W" at that SGEMM load (same NVIDIA table): an upper bound
        p_idle_w=1.6,      # whole board idle, command line over ethernet: ~1.6 W (eLinux.org "Jetson TK1 Power")
        sources={"rate": "NVIDIA Jetson TK1 vs Tesla K40 (2014): SGEMM 290 GFLOP/s", "mem_bw": "same, 14.9 GB/s",
                 "p_compute_w": "same, CPU+GPU < 11 W", "p_idle_w": "eLinux.org Jetson/Jetson_TK1_Power, ~1.6 W idle"}),
    # Raspberry Pi 4 Model B: BCM2711, 4x Cortex-A72 at 1.5 GHz, LPDDR4-3200 (Raspberry Pi 4 product brief).
    "rpi4": Processor(
        "rpi4", "Raspberry Pi 4 Model B (4x Cortex-A72 1.5 GHz, CPU inference)",
        _same(48e9),   # 4 cores x 1.5 GHz x 8 FLOP/cycle (one 4-wide fp32 NEON FMA per cycle): derived peak
        12.8e9,        # LPDDR4-3200 on the BCM2711's 32-bit bus: 3200 MT/s x 4 B = 12.8 GB/s
        p_compute_w=6.4,   # 1280 mA at 5.1 V under full load (Geerling, "Power Consumption Benchmarks", pidramble.com)
        p_idle_w=2.7,      # 540 mA at 5.1 V idle (same measurements)
        sources={"rate": "derived: 4 cores x 1.5 GHz x 8 FLOP/cycle (product brief clock)",
                 "mem_bw": "derived: LPDDR4-3200 x 32 bit", "p_compute_w": "pidramble.com Pi 4 B load 1280 mA",
                 "p_idle_w": "pidramble.com Pi 4 B idle 540 mA"}),
    # NVIDIA Jetson Nano module: 128-core Maxwell GPU at 921.6 MHz, 4 GB LPDDR4 (Jetson Nano datasheet DS-09366).
    "jetson-nano": Processor(
        "jetson-nano", "Jetson Nano (128-core Maxwell GPU, 10 W mode)",
        _same(236e9),  # 128 cores x 2 FLOP x 921.6 MHz = 236 GFLOP/s fp32 (datasheet: 472 GFLOPS fp16)
        25.6e9,        # 64-bit LPDDR4, 25.6 GB/s (datasheet)
        p_compute_w=10.0,  # the 10 W (MAXN) power mode of the datasheet
        p_idle_w=None,     # not published in the datasheet: idle energy cannot be included for this device
        sources={"rate": "Jetson Nano datasheet: 472 GFLOPS fp16 -> 236 fp32", "mem_bw": "datasheet 25.6 GB/s",
                 "p_compute_w": "datasheet 10 W mode"}),
}
"""device classes: phone SoC (tk1), Raspberry-Pi class (rpi4), Jetson class (jetson-nano)"""

SERVERS = {
    # NVIDIA GeForce GTX Titan X (Maxwell): Neurosurgeon's server GPU. 3072 CUDA cores, 1000 MHz base.
    "titanx": Processor("titanx", "GPU server: GTX Titan X (Maxwell), Neurosurgeon's server",
                        _same(6.14e12),  # 3072 x 2 FLOP x 1.0 GHz base clock (NVIDIA specifications)
                        336.5e9,         # 384-bit GDDR5 at 7 Gbps: 336.5 GB/s (NVIDIA specifications)
                        sources={"rate": "NVIDIA GTX Titan X spec: 3072 cores, 1000 MHz", "mem_bw": "336.5 GB/s"}),
    # NVIDIA T4 (Turing), the common edge-inference GPU: 8.1 TFLOPS fp32, 320 GB/s, 70 W (T4 datasheet).
    "t4": Processor("t4", "edge GPU server: NVIDIA T4", _same(8.1e12), 320e9,
                    sources={"rate": "NVIDIA T4 datasheet: 8.1 TFLOPS fp32", "mem_bw": "datasheet 320 GB/s"}),
    # Intel Xeon Gold 6148: 20 cores, 2.4 GHz, 2 AVX-512 FMA units, 6 channels DDR4-2666 (Intel ARK).
    "xeon": Processor("xeon", "edge CPU server: Intel Xeon Gold 6148 (20 cores, AVX-512)",
                      _same(3.07e12),  # 20 x 2.4 GHz x 64 FLOP/cycle (2 FMA units x 16 fp32 x 2): peak
                      128e9,           # 6 x DDR4-2666 x 8 B = 128 GB/s
                      sources={"rate": "Intel ARK Gold 6148: 20 cores 2.4 GHz, 2 AVX-512 FMA", "mem_bw": "6 x DDR4-2666"}),
}
"""edge servers (GPU and CPU)"""


@dataclass(frozen=True)
class Uplink:
    """A wireless uplink: throughput (Mbit/s) and the radio power model P = alpha * rate + beta (W)."""

    name: str
    mbps: float
    alpha_w_per_mbps: float
    beta_w: float

    def tx_power_w(self, mbps: float | None = None) -> float:
        """Transmit power (W) at ``mbps`` (default: this link's throughput)."""
        return self.alpha_w_per_mbps * (self.mbps if mbps is None else mbps) + self.beta_w


# Throughputs: Neurosurgeon's 3G / LTE / Wi-Fi averages (Kang et al., ASPLOS 2017, §5: 1.1, 5.85, 18.88 Mbps).
# Power model: Huang et al., "A Close Examination of Performance and Power Characteristics of 4G LTE
# Networks", MobiSys 2012, Table 3 (uplink alpha_u in mW/Mbps, base beta in mW); Neurosurgeon uses the same.
UPLINKS = {
    "3g": Uplink("3g", 1.1, 0.86898, 0.81788),
    "lte": Uplink("lte", 5.85, 0.43839, 1.28804),
    "wifi": Uplink("wifi", 18.88, 0.28317, 0.13286),
}
"""uplinks by name"""


def pick(table: dict, name: str, what: str):
    """``table[name]`` or one UserError line naming the choices."""
    if name not in table:
        raise UserError(f"{what} must be one of {', '.join(table)} (got '{name}')")
    return table[name]
