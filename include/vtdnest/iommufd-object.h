/*
 * -object iommufd,id=ID[,fd=N][,sim=on]: one iommufd the machine's passthrough
 * devices share, plus (sim=on) the in-process host simulator behind it, which
 * -object iommufd-sim-unit / iommufd-sim-device populate. See docs/iommufd.md.
 *
 * The real /dev/iommu is opened on first use, not at creation, so a command
 * line naming an iommufd that no device uses works on hosts without one.
 */
#ifndef VTDNEST_IOMMUFD_OBJECT_H
#define VTDNEST_IOMMUFD_OBJECT_H

#include <glib.h>
#include <stdbool.h>

#include "vtdnest/iommufd-backend.h"
#include "vtdnest/iommufd-sim.h"
#include "vtdnest/machine.h"

typedef struct IommufdObject IommufdObject;

/* The machine-registry type string under which IommufdObjects are kept. */
#define IOMMUFD_OBJECT_TYPE "iommufd"

/*
 * The -object iommufd named id; fails with "No iommufd object with id 'ID'"
 * (and a hint) when there is none. The result is borrowed: take a reference
 * with iommufd_object_ref() to keep it past machine teardown.
 */
IommufdObject *iommufd_object_find(Machine *m, const char *id, GError **errp);

IommufdObject *iommufd_object_ref(IommufdObject *o);
void iommufd_object_unref(IommufdObject *o);

const char *iommufd_object_id(const IommufdObject *o);

/*
 * The backend, opening /dev/iommu now if this is its first use (fd=N is used
 * as given; sim=on opens the simulator). Error example:
 *   "iommufd 'fd0': cannot open /dev/iommu: no such device node: ..."
 */
IommufdBackend *iommufd_object_backend(IommufdObject *o, GError **errp);

/* The simulator behind a sim=on object, else NULL. */
IommufdSim *iommufd_object_sim(IommufdObject *o);

#endif
