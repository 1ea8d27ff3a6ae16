# bladeplane's minimal x86_64 device set (configure --without-default-devices
# --with-devices-x86_64=bladeplane): the q35 blade machine, virtio for
# comparison runs, and our own devices.  Boards select what they need.
# pcie-root-port lets tests put blade-nic behind a hot-pluggable PCIe slot.
CONFIG_Q35=y
CONFIG_PCIE_PORT=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_VIRTIO_BLK=y
CONFIG_VIRTIO_RNG=y
CONFIG_BLADE_NIC=y
CONFIG_BLADE_CHASSIS=y
