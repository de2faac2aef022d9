# Jetson (meta-tegra): Shap-E generation on the GPU. On machines with the `cuda` override (every
# CUDA-capable Tegra machine), builds the server with candle's CUDA kernels (genai's `cuda` feature;
# cuda.bbclass puts meta-tegra's nvcc on PATH and exports CUDA_PATH) and lets the service reach the
# GPU. Parsed only when meta-tegra is in the build (BBFILES_DYNAMIC in conf/layer.conf).
# Not built yet: see yocto/README.md "NVIDIA GPUs".
inherit cuda

FILESEXTRAPATHS:prepend:cuda := "${THISDIR}/files:"
SRC_URI:append:cuda = " file://gpu.conf"

PACKAGECONFIG:append:cuda = " cuda"

do_install:append:cuda() {
    install -D -m 0644 ${UNPACKDIR}/gpu.conf ${D}${systemd_system_unitdir}/printfarm.service.d/gpu.conf
}

FILES:${PN}:append:cuda = " ${systemd_system_unitdir}/printfarm.service.d"
