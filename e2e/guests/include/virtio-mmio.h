// The virtio-mmio register file and device status bits (virtio 1.2 sections 4.2.2 and 2.1),
// shared by the test guests that drive a virtio device.
#pragma once

#define REG_MAGIC           0x000
#define REG_VERSION         0x004
#define REG_DEVICE_ID       0x008
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEAT_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEAT_SEL 0x024
#define REG_QUEUE_SEL       0x030
#define REG_QUEUE_NUM_MAX   0x034
#define REG_QUEUE_NUM       0x038
#define REG_QUEUE_READY     0x044
#define REG_QUEUE_NOTIFY    0x050
#define REG_STATUS          0x070
#define REG_QUEUE_DESC      0x080
#define REG_QUEUE_DRIVER    0x090
#define REG_QUEUE_DEVICE    0x0A0
#define REG_CONFIG          0x100

#define STATUS_ACK          1
#define STATUS_DRIVER       2
#define STATUS_DRIVER_OK    4
#define STATUS_FEATURES_OK  8
