/* PVH guests implement guest_main(); lib/pvh.c checks hvm_start_info and calls it. */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H

#include "bootinfo.h"

void __attribute__((noreturn)) guest_main(const struct hvm_start_info *si);
/* The command line ("" if none). */
const char *pvh_cmdline(const struct hvm_start_info *si);

#endif
