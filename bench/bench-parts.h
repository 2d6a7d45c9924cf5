/* The two halves of the translation benchmark (bench-translate.c runs both). */
#ifndef BENCH_PARTS_H
#define BENCH_PARTS_H

#include <stdbool.h>

/* IOTLB hit and miss costs through vtd_translate on a bare libvtd unit.
 * Returns false when a setup check failed (a bench or VT-d bug). */
bool bench_vtd_run(void);

/* 4 KiB iommu-testdev DMA through the whole in-process machine, translated
 * versus untranslated. Returns false on a setup failure; prints a "skipped"
 * line and returns true when the machine lacks a needed device. */
bool bench_dma_run(void);

#endif
