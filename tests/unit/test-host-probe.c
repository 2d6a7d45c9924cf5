/*
 * vtdnest-host-probe: VT-d capability decoding, and the verdict on fake
 * sysfs/dev/proc trees built in a temporary directory.
 */
#define _GNU_SOURCE  /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "scripts/host-probe.h"
#include "scripts/vtd-cap-decode.h"

/* Register bits, from vtd-spec-facts.md §2 (the test composes values from
 * these and checks the decoder reads them back). */
#define BIT(n) (UINT64_C(1) << (n))
#define CAP_ND(v)     ((uint64_t)(v) << 0)
#define CAP_CM        BIT(7)
#define CAP_SAGAW(v)  ((uint64_t)(v) << 8)
#define CAP_MGAW(aw)  ((uint64_t)((aw) - 1) << 16)
#define CAP_FRO(off)  ((uint64_t)((off) / 16) << 24)
#define CAP_SSLPS(v)  ((uint64_t)(v) << 34)
#define CAP_PSI       BIT(39)
#define CAP_NFR(n)    ((uint64_t)((n) - 1) << 40)
#define CAP_MAMV(v)   ((uint64_t)(v) << 48)
#define CAP_DWD       BIT(54)
#define CAP_DRD       BIT(55)
#define CAP_FS1GP     BIT(56)
#define CAP_FS5LP     BIT(60)
#define CAP_ESRTPS    BIT(63)

#define ECAP_QI       BIT(1)
#define ECAP_DT       BIT(2)
#define ECAP_IR       BIT(3)
#define ECAP_PT       BIT(6)
#define ECAP_SC       BIT(7)
#define ECAP_IRO(off) ((uint64_t)((off) / 16) << 8)
#define ECAP_MHMV(v)  ((uint64_t)(v) << 20)
#define ECAP_NEST     BIT(26)
#define ECAP_PRS      BIT(29)
#define ECAP_SRS      BIT(31)
#define ECAP_EAFS     BIT(34)
#define ECAP_PSS(b)   ((uint64_t)((b) - 1) << 35)
#define ECAP_PASID    BIT(40)
#define ECAP_SMTS     BIT(43)
#define ECAP_SSADS    BIT(45)
#define ECAP_SSTS     BIT(46)
#define ECAP_FSTS     BIT(47)
#define ECAP_SMPWCS   BIT(48)
#define ECAP_RPS      BIT(49)
#define ECAP_ADMS     BIT(52)

/* A host unit much like a recent server part. */
static const uint64_t cap_nest = CAP_ND(6) | CAP_SAGAW(0x6) | CAP_MGAW(48) |
    CAP_FRO(0x220) | CAP_SSLPS(3) | CAP_PSI | CAP_NFR(8) | CAP_MAMV(18) |
    CAP_DWD | CAP_DRD | CAP_FS1GP;
static const uint64_t ecap_nest = ECAP_QI | ECAP_DT | ECAP_IR | ECAP_PT |
    ECAP_SC | ECAP_IRO(0x100) | ECAP_MHMV(15) | ECAP_NEST | ECAP_PRS |
    ECAP_SRS | ECAP_PSS(20) | ECAP_PASID | ECAP_SMTS | ECAP_SSADS |
    ECAP_SSTS | ECAP_FSTS | ECAP_SMPWCS | ECAP_RPS;
/* Same unit without nesting: scalable mode with second stage only. */
#define ECAP_NO_NEST (ecap_nest & ~(ECAP_NEST | ECAP_FSTS))

/* ---- decoding ---------------------------------------------------------- */

static void test_decode_cap(void **state)
{
    VtdCapInfo c;
    uint64_t cap = CAP_ND(6) | CAP_CM | CAP_SAGAW(0x6) | CAP_MGAW(48) |
                   CAP_FRO(0x220) | CAP_SSLPS(3) | CAP_PSI | CAP_NFR(8) |
                   CAP_MAMV(18) | CAP_DWD | CAP_DRD | CAP_FS1GP | CAP_ESRTPS;

    vtd_cap_decode(cap, &c);
    assert_int_equal(c.nd, 6);
    assert_int_equal(c.domain_id_bits, 16);
    assert_int_equal(c.num_domains, 65536);
    assert_true(c.cm);
    assert_int_equal(c.sagaw, 0x6);
    assert_true(c.sagaw_39);
    assert_true(c.sagaw_48);
    assert_false(c.sagaw_57);
    assert_int_equal(c.mgaw_bits, 48);
    assert_int_equal(c.fro_offset, 0x220);
    assert_true(c.sslps_2m);
    assert_true(c.sslps_1g);
    assert_true(c.psi);
    assert_int_equal(c.nfr, 8);
    assert_int_equal(c.mamv, 18);
    assert_true(c.dwd && c.drd && c.fs1gp && c.esrtps);
    assert_false(c.fs5lp || c.pi || c.rwbf || c.afl || c.esirtps || c.ecmds);

    vtd_cap_decode(CAP_ND(7) | CAP_FS5LP | CAP_MGAW(57) | CAP_SAGAW(0x8), &c);
    assert_int_equal(c.num_domains, 0);  /* ND=7 is reserved */
    assert_true(c.fs5lp);
    assert_false(c.fs1gp);
    assert_int_equal(c.mgaw_bits, 57);
    assert_true(c.sagaw_57);
    assert_false(c.sagaw_48);
}

static void test_decode_ecap(void **state)
{
    VtdEcapInfo e;

    vtd_ecap_decode(ecap_nest, &e);
    assert_true(e.qi && e.dt && e.ir && e.pt && e.sc);
    assert_false(e.c || e.eim);
    assert_int_equal(e.iro_offset, 0x100);
    assert_int_equal(e.mhmv, 15);
    assert_true(e.nest && e.prs && e.srs && e.pasid && e.smts);
    assert_true(e.ssads && e.ssts && e.fsts && e.smpwcs && e.rps);
    assert_false(e.eafs || e.adms || e.ers || e.mts);
    assert_int_equal(e.pasid_bits, 20);

    /* PSS without ECAP.PASID means nothing. */
    vtd_ecap_decode(ECAP_PSS(20) | ECAP_ADMS | ECAP_EAFS, &e);
    assert_int_equal(e.pasid_bits, 0);
    assert_true(e.adms && e.eafs);
    assert_false(e.nest);
}

/* Every field lies inside the register, fields do not overlap, and a flag's
 * table entry agrees with the struct decoder. */
static void test_field_tables(void **state)
{
    const struct { const VtdRegField *t; size_t n; } tables[] = {
        { vtd_cap_fields, vtd_cap_field_count },
        { vtd_ecap_fields, vtd_ecap_field_count },
    };

    for (size_t k = 0; k < G_N_ELEMENTS(tables); k++) {
        uint64_t seen = 0;
        for (size_t i = 0; i < tables[k].n; i++) {
            const VtdRegField *f = &tables[k].t[i];
            uint64_t mask = 0;
            assert_true(f->hi < 64 && f->lo <= f->hi);
            for (unsigned b = f->lo; b <= f->hi; b++) {
                mask |= BIT(b);
            }
            assert_int_equal(seen & mask, 0);
            seen |= mask;
            assert_int_equal(vtd_field_get(mask, f), mask >> f->lo);
            assert_ptr_equal(vtd_field_find(tables[k].t, tables[k].n, f->name), f);
        }
    }
    assert_non_null(vtd_field_find(vtd_ecap_fields, vtd_ecap_field_count, "nest"));
    assert_null(vtd_field_find(vtd_ecap_fields, vtd_ecap_field_count, "NOPE"));

    /* Spot-check positions against the struct decoder. */
    const char *ecap_flags[] = { "NEST", "SMTS", "FSTS", "SSTS", "PASID", "SRS" };
    for (size_t i = 0; i < G_N_ELEMENTS(ecap_flags); i++) {
        const VtdRegField *f = vtd_field_find(vtd_ecap_fields, vtd_ecap_field_count,
                                              ecap_flags[i]);
        assert_non_null(f);
        assert_int_equal(vtd_field_get(ecap_nest, f), 1);
        assert_int_equal(vtd_field_get(ecap_nest & ~BIT(f->lo), f), 0);
    }
    const VtdRegField *fs1gp = vtd_field_find(vtd_cap_fields, vtd_cap_field_count, "FS1GP");
    VtdCapInfo c;
    vtd_cap_decode(BIT(fs1gp->lo), &c);
    assert_true(c.fs1gp);
}

static void test_field_format(void **state)
{
    const struct { const char *name; const char *want; } cases[] = {
        { "ND", "ND=6 (16-bit DID, 65536 domains)" },
        { "SAGAW", "SAGAW=0x6 (39,48-bit)" },
        { "MGAW", "MGAW=47 (48 bits)" },
        { "FRO", "FRO=0x22 (at 0x220)" },
        { "SSLPS", "SSLPS=0x3 (2M,1G)" },
        { "NFR", "NFR=7 (8 records)" },
        { "PSI", "PSI=1" },
        { "FS5LP", "FS5LP=0" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const VtdRegField *f = vtd_field_find(vtd_cap_fields, vtd_cap_field_count,
                                              cases[i].name);
        g_autofree char *s = vtd_field_format(cap_nest, f);
        assert_string_equal(s, cases[i].want);
    }
    const VtdRegField *pss = vtd_field_find(vtd_ecap_fields, vtd_ecap_field_count, "PSS");
    g_autofree char *s = vtd_field_format(ecap_nest, pss);
    assert_string_equal(s, "PSS=19 (20 PASID bits)");
    g_autofree char *none = vtd_sagaw_describe(0);
    assert_string_equal(none, "none");
}

static void test_nesting_missing(void **state)
{
    const char *missing[VTD_NESTING_PREREQS];

    assert_int_equal(vtd_nesting_missing(ecap_nest, missing), 0);
    assert_int_equal(vtd_nesting_missing(ECAP_NO_NEST, missing), 2);
    assert_string_equal(missing[0], "NEST");
    assert_string_equal(missing[1], "FSTS");
    assert_int_equal(vtd_nesting_missing(0, missing), 4);
    assert_string_equal(missing[0], "SMTS");
    assert_string_equal(missing[3], "SSTS");
    assert_int_equal(vtd_nesting_missing(ecap_nest & ~ECAP_SSTS, NULL), 1);
}

static void test_parse_hex(void **state)
{
    uint64_t v = 0;
    g_autoptr(GError) err = NULL;
    const char *bad[] = { "", "  \n", "0x", "xyz", "12 34", "0x1g",
                          "10000000000000000" /* 17 digits */, "-1" };

    assert_true(vtd_parse_reg_hex("d2008c40660462\n", &v, NULL));
    assert_true(v == UINT64_C(0xd2008c40660462));
    assert_true(vtd_parse_reg_hex(" 0xFFFFFFFFFFFFFFFF ", &v, NULL));
    assert_true(v == UINT64_MAX);
    assert_true(vtd_parse_reg_hex("0", &v, NULL));
    assert_true(v == 0);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_clear_error(&err);
        assert_false(vtd_parse_reg_hex(bad[i], &v, &err));
        assert_non_null(err);
        assert_true(g_error_matches(err, VTD_DECODE_ERROR, VTD_DECODE_ERROR_MALFORMED));
    }
}

static void test_parse_version(void **state)
{
    unsigned major = 99, minor = 99;
    const char *bad[] = { "", "1:", ":0", "a:b", "1:0:0", "0x100000000", "x" };

    assert_true(vtd_parse_version("1:0\n", &major, &minor, NULL));
    assert_int_equal(major, 1);
    assert_int_equal(minor, 0);
    assert_true(vtd_parse_version("6.1", &major, &minor, NULL));
    assert_int_equal(major, 6);
    assert_int_equal(minor, 1);
    assert_true(vtd_parse_version("0x10", &major, &minor, NULL));
    assert_int_equal(major, 1);
    assert_int_equal(minor, 0);
    assert_true(vtd_parse_version("61", &major, &minor, NULL));
    assert_int_equal(major, 6);
    assert_int_equal(minor, 1);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        assert_false(vtd_parse_version(bad[i], &major, &minor, &err));
        assert_non_null(err);
    }
}

/* ---- fake trees -------------------------------------------------------- */

typedef struct Fake {
    char *root, *sys, *dev, *proc;
} Fake;

static void put_file(const char *base, const char *rel, const char *content)
{
    g_autofree char *path = g_build_filename(base, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    assert_true(g_file_set_contents(path, content, -1, NULL));
}

static void put_link(const char *base, const char *rel, const char *target)
{
    g_autofree char *path = g_build_filename(base, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    assert_int_equal(symlink(target, path), 0);
}

static Fake *fake_new(void)
{
    Fake *f = g_new0(Fake, 1);

    f->root = g_dir_make_tmp("host-probe-XXXXXX", NULL);
    assert_non_null(f->root);
    f->sys = g_build_filename(f->root, "sys", NULL);
    f->dev = g_build_filename(f->root, "dev", NULL);
    f->proc = g_build_filename(f->root, "proc", NULL);
    assert_int_equal(g_mkdir_with_parents(f->sys, 0755), 0);
    assert_int_equal(g_mkdir_with_parents(f->dev, 0755), 0);
    assert_int_equal(g_mkdir_with_parents(f->proc, 0755), 0);
    put_file(f->proc, "cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro\n");
    return f;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    return remove(path);
}

static void fake_free(Fake *f)
{
    assert_int_equal(nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    g_free(f->root);
    g_free(f->sys);
    g_free(f->dev);
    g_free(f->proc);
    g_free(f);
}

static void fake_unit(Fake *f, const char *name, uint64_t cap, uint64_t ecap)
{
    g_autofree char *dir = g_strdup_printf("class/iommu/%s/intel-iommu", name);
    g_autofree char *capf = g_strdup_printf("%s/cap", dir);
    g_autofree char *ecapf = g_strdup_printf("%s/ecap", dir);
    g_autofree char *verf = g_strdup_printf("%s/version", dir);
    g_autofree char *addrf = g_strdup_printf("%s/address", dir);
    g_autofree char *capv = g_strdup_printf("%" G_GINT64_MODIFIER "x\n", cap);
    g_autofree char *ecapv = g_strdup_printf("%" G_GINT64_MODIFIER "x\n", ecap);

    /* Formats as Linux prints them: "%llx", version "%d:%d". */
    put_file(f->sys, capf, capv);
    put_file(f->sys, ecapf, ecapv);
    put_file(f->sys, verf, "6:0\n");
    put_file(f->sys, addrf, "fed90000\n");
}

/* A PCI function; unit/group/driver/vfio may be NULL. */
static void fake_device(Fake *f, const char *bdf, const char *ids_class[3],
                        const char *group, const char *driver, const char *unit,
                        const char *vfio)
{
    g_autofree char *dir = g_strdup_printf("bus/pci/devices/%s", bdf);
    const char *attrs[3] = { "vendor", "device", "class" };

    for (int i = 0; i < 3; i++) {
        g_autofree char *p = g_strdup_printf("%s/%s", dir, attrs[i]);
        g_autofree char *v = g_strdup_printf("%s\n", ids_class[i]);
        put_file(f->sys, p, v);
    }
    if (group) {
        g_autofree char *p = g_strdup_printf("%s/iommu_group", dir);
        g_autofree char *t = g_strdup_printf("../../../kernel/iommu_groups/%s", group);
        put_link(f->sys, p, t);
    }
    if (driver) {
        g_autofree char *p = g_strdup_printf("%s/driver", dir);
        g_autofree char *t = g_strdup_printf("../../../bus/pci/drivers/%s", driver);
        put_link(f->sys, p, t);
    }
    if (unit) {
        g_autofree char *p = g_strdup_printf("%s/iommu", dir);
        g_autofree char *t = g_strdup_printf("../../virtual/iommu/%s", unit);
        put_link(f->sys, p, t);
    }
    if (vfio) {
        g_autofree char *p = g_strdup_printf("%s/vfio-dev/%s/dev", dir, vfio);
        put_file(f->sys, p, "511:0\n");
    }
}

static void fake_cdev(Fake *f, const char *vfio)
{
    g_autofree char *p = g_strdup_printf("vfio/devices/%s", vfio);
    put_file(f->dev, p, "");
}

static const char *nic[3] = { "0x8086", "0x1592", "0x020000" };
static const char *audio[3] = { "0x8086", "0x51c8", "0x040300" };

/*
 * The reference scene: dmar0 can nest, dmar1 cannot (no NEST, no FSTS).
 * 00:02.0 is a VFIO device with a cdev behind dmar0; 00:03.0 is a NIC on
 * its own driver behind dmar1; 00:04.0 is on vfio-pci without a cdev.
 */
static Fake *fake_reference(bool with_dev_iommu)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest, ecap_nest);
    fake_unit(f, "dmar1", cap_nest, ECAP_NO_NEST);
    fake_device(f, "0000:00:02.0", nic, "1", "vfio-pci", "dmar0", "vfio0");
    fake_cdev(f, "vfio0");
    fake_device(f, "0000:00:03.0", nic, "2", "ice", "dmar1", NULL);
    fake_device(f, "0000:00:04.0", nic, "3", "vfio-pci", "dmar1", NULL);
    if (with_dev_iommu) {
        put_file(f->dev, "iommu", "");
    }
    return f;
}

typedef struct Probe {
    ProbeHost *host;
    ProbeVerdict *verdict;
    char *text;
} Probe;

static Probe run_probe(Fake *f)
{
    Probe p;

    p.host = probe_host_new(f->sys, f->dev, f->proc);
    probe_scan_host(p.host);
    probe_scan_devices_sysfs(p.host);
    probe_host_sort(p.host);
    p.verdict = probe_verdict(p.host);
    p.text = probe_format_text(p.host, p.verdict);
    return p;
}

static void probe_done(Probe *p)
{
    probe_verdict_free(p->verdict);
    probe_host_free(p->host);
    g_free(p->text);
}

/* Whether some line of text starts with prefix. */
static bool has_line(const char *text, const char *prefix)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, prefix)) {
            return true;
        }
    }
    return false;
}

static bool list_has_prefix(GPtrArray *list, const char *prefix)
{
    for (guint i = 0; i < list->len; i++) {
        if (g_str_has_prefix(g_ptr_array_index(list, i), prefix)) {
            return true;
        }
    }
    return false;
}

static const ProbeDevice *find_device(const ProbeHost *h, const char *bdf)
{
    for (guint i = 0; i < h->devices->len; i++) {
        const ProbeDevice *d = g_ptr_array_index(h->devices, i);
        if (!strcmp(d->bdf, bdf)) {
            return d;
        }
    }
    return NULL;
}

static void test_scan_reference(void **state)
{
    Fake *f = fake_reference(false);
    Probe p = run_probe(f);
    const ProbeUnit *u0 = probe_find_unit(p.host, "dmar0");
    const ProbeUnit *u1 = probe_find_unit(p.host, "dmar1");
    const ProbeDevice *d2 = find_device(p.host, "0000:00:02.0");
    const ProbeDevice *d3 = find_device(p.host, "0000:00:03.0");
    const ProbeDevice *d4 = find_device(p.host, "0000:00:04.0");
    g_autofree char *cdev = g_build_filename(f->dev, "vfio", "devices", "vfio0", NULL);

    assert_int_equal(p.host->units->len, 2);
    assert_non_null(u0);
    assert_non_null(u1);
    assert_true(u0->is_vtd && u0->regs_ok && u0->version_ok && u0->address_ok);
    assert_true(u0->cap == cap_nest);
    assert_true(u0->ecap == ecap_nest);
    assert_true(u1->ecap == ECAP_NO_NEST);
    assert_int_equal(u0->ver_major, 6);
    assert_true(u0->address == 0xfed90000);

    assert_int_equal(p.host->devices->len, 3);
    assert_non_null(d2);
    assert_true(d2->ids_ok);
    assert_int_equal(d2->vendor, 0x8086);
    assert_int_equal(d2->device, 0x1592);
    assert_int_equal(d2->class_code, 0x020000);
    assert_string_equal(d2->iommu_group, "1");
    assert_string_equal(d2->driver, "vfio-pci");
    assert_string_equal(d2->iommu_unit, "dmar0");
    assert_string_equal(d2->vfio_cdev, cdev);
    assert_true(d2->vfio_cdev_present);
    assert_true(probe_device_is_vfio(d2));
    assert_string_equal(d3->driver, "ice");
    assert_null(d3->vfio_cdev);
    assert_false(probe_device_is_vfio(d3));
    assert_true(probe_device_is_vfio(d4));
    assert_null(d4->vfio_cdev);

    /* The text report shows the decoded registers. */
    assert_non_null(strstr(p.text, "MGAW=47 (48 bits)"));
    assert_non_null(strstr(p.text, "missing NEST FSTS"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_no_dev_iommu(void **state)
{
    Fake *f = fake_reference(false);
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — "));
    assert_true(list_has_prefix(p.verdict->reasons, p.host->dev_iommu));
    g_autofree char *prefix = g_strdup_printf("nested translation: NOT available — %s "
                                              "not found (kernel without CONFIG_IOMMUFD",
                                              p.host->dev_iommu);
    assert_true(has_line(p.text, prefix));
    /* 00:02.0 itself is fine, so the per-unit/device problems are warnings. */
    assert_int_equal(p.verdict->usable->len, 1);
    assert_string_equal(g_ptr_array_index(p.verdict->usable, 0), "0000:00:02.0");
    assert_int_equal(p.verdict->reasons->len, 1);
    assert_true(has_line(p.text, "warning: dmar1: ECAP lacks NEST, FSTS"));
    assert_true(has_line(p.text, "warning: 0000:00:04.0: bound to vfio-pci but has "
                                 "no vfio cdev"));
    assert_true(has_line(p.text, "warning: 0000:00:04.0: behind dmar1, which cannot"));
    assert_false(has_line(p.text, "warning: 0000:00:03.0"));  /* not VFIO */
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_available(void **state)
{
    Fake *f = fake_reference(true);
    Probe p = run_probe(f);

    assert_true(p.verdict->available);
    assert_int_equal(p.verdict->reasons->len, 0);
    assert_true(has_line(p.text, "nested translation: available for 0000:00:02.0"));
    assert_false(has_line(p.text, "nested translation: NOT available"));
    assert_true(has_line(p.text, "recommend: use -device intel-iommu,scalable-mode=on,"
                                 "flts=on,aw-bits=48,caching-mode=on"));
    assert_non_null(p.verdict->guest_options);
    assert_null(strstr(p.verdict->guest_options, "fs1gp=off"));
    /* The erratum is only visible via IOMMU_GET_HW_INFO: the probe says how
     * to query it and what it implies. */
    assert_true(has_line(p.text, "note: ERRATA_772415_SPR17 is reported only through "
                                 "IOMMU_GET_HW_INFO; run `vtdnest "));
    assert_non_null(strstr(p.text, "host=0000:00:02.0"));
    assert_true(has_line(p.text, "note: ERRATA_772415_SPR17 (current kernels"));
    assert_non_null(strstr(p.text, "read-only mappings"));
    /* dmar0 lacks EAFS and FS5LP: advice says to keep those off. */
    assert_true(has_line(p.text, "note: host lacks ECAP.EAFS"));
    assert_non_null(strstr(p.text, "keep x-fs5lp off"));
    assert_false(has_line(p.text, "note: host lacks ECAP.SRS"));
    assert_true(has_line(p.text, "note: host PASID width is 20 bits"));
    assert_true(has_line(p.text, "note: scalable mode must also be enabled"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_fs1gp(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest & ~CAP_FS1GP, ecap_nest);
    put_file(f->proc, "cmdline", "ro intel_iommu=on,sm_on\n");
    fake_device(f, "0000:00:02.0", nic, "1", "vfio-pci", "dmar0", "vfio0");
    fake_cdev(f, "vfio0");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_true(p.verdict->available);
    assert_non_null(strstr(p.verdict->guest_options,
                           "-device intel-iommu,scalable-mode=on,flts=on,fs1gp=off"));
    assert_true(has_line(p.text, "recommend: use -device intel-iommu,scalable-mode=on,"
                                 "flts=on,fs1gp=off"));
    assert_true(has_line(p.text, "note: host lacks CAP.FS1GP"));
    /* sm_on on the command line settles the scalable-mode question. */
    assert_false(has_line(p.text, "note: scalable mode must also be enabled"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_only_non_nesting_unit(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest, ecap_nest);
    fake_unit(f, "dmar1", cap_nest, ECAP_NO_NEST & ~ECAP_SMTS);
    fake_device(f, "0000:00:04.0", nic, "3", "vfio-pci", "dmar1", "vfio0");
    fake_cdev(f, "vfio0");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — dmar1: ECAP "
                                 "lacks SMTS, NEST, FSTS"));
    assert_true(has_line(p.text, "nested translation: NOT available — 0000:00:04.0: "
                                 "behind dmar1, which cannot back nesting"));
    assert_false(has_line(p.text, "nested translation: NOT available — dmar0"));
    assert_int_equal(p.verdict->usable->len, 0);
    /* Advice follows the unit the VFIO device sits behind. */
    assert_true(has_line(p.text, "note: host lacks ECAP.EAFS"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_no_vfio_device(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest, ecap_nest);
    fake_device(f, "0000:00:03.0", nic, "2", "ice", "dmar0", NULL);
    fake_device(f, "0000:00:05.0", nic, "4", NULL, "dmar0", NULL);
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — no PCI device "
                                 "is bound to vfio-pci"));
    assert_int_equal(p.verdict->reasons->len, 1);
    /* Still advises from the host's units. */
    assert_non_null(p.verdict->guest_options);
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_cdev_node_missing(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest, ecap_nest);
    fake_device(f, "0000:00:02.0", nic, "1", "vfio-pci", "dmar0", "vfio7");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);
    g_autofree char *path = g_build_filename(f->dev, "vfio", "devices", "vfio7", NULL);
    g_autofree char *line = g_strdup_printf("nested translation: NOT available — "
                                            "0000:00:02.0: vfio cdev %s not found", path);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, line));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_group_not_viable(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", cap_nest, ecap_nest);
    fake_device(f, "0000:00:1f.0", nic, "9", "vfio-pci", "dmar0", "vfio0");
    fake_device(f, "0000:00:1f.3", audio, "9", "snd_hda_intel", "dmar0", NULL);
    fake_device(f, "0000:00:1c.0", nic, "9", "pcieport", "dmar0", NULL);
    fake_cdev(f, "vfio0");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — 0000:00:1f.0: "
                                 "IOMMU group 9 also holds 0000:00:1f.3 (snd_hda_intel) —"));
    assert_null(strstr(p.text, "0000:00:1c.0 (pcieport)"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_bad_registers(void **state)
{
    Fake *f = fake_new();

    put_file(f->sys, "class/iommu/dmar0/intel-iommu/cap", "zzz\n");
    put_file(f->sys, "class/iommu/dmar0/intel-iommu/ecap", "f0\n");
    put_file(f->sys, "class/iommu/dmar0/intel-iommu/version", "garbage\n");
    put_file(f->sys, "class/iommu/dmar1/intel-iommu/version", "1:0\n");  /* no cap */
    fake_device(f, "0000:00:02.0", nic, "1", "vfio-pci", "dmar0", "vfio0");
    fake_device(f, "bogus-entry", nic, NULL, NULL, NULL, NULL);  /* ignored */
    fake_cdev(f, "vfio0");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    const ProbeUnit *u0 = probe_find_unit(p.host, "dmar0");
    assert_false(u0->regs_ok);
    assert_false(u0->version_ok);
    assert_int_equal(p.host->devices->len, 1);
    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — dmar0: "
                                 "capabilities unreadable"));
    assert_true(has_line(p.text, "nested translation: NOT available — dmar1: "
                                 "capabilities unreadable"));
    assert_null(p.verdict->guest_options);  /* nothing to base advice on */
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_empty_tree(void **state)
{
    Fake *f = fake_new();
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — no IOMMU unit "
                                 "under"));
    assert_true(list_has_prefix(p.verdict->warnings, p.host->sysfs_root));  /* no bus/pci */
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_non_intel_and_cmdline(void **state)
{
    Fake *f = fake_new();

    put_file(f->sys, "class/iommu/ivhd0/amd-iommu/cap", "0\n");
    put_file(f->proc, "cmdline", "ro quiet intel_iommu=on,sm_on intel_iommu=sm_off\n");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_true(has_line(p.text, "nested translation: NOT available — no Intel VT-d "
                                 "unit (IOMMU units found: ivhd0)"));
    assert_true(has_line(p.text, "nested translation: NOT available — kernel command "
                                 "line has intel_iommu=sm_off"));
    assert_true(has_line(p.text, "  ivhd0: not an Intel VT-d unit"));
    probe_done(&p);
    fake_free(f);
}

static void test_verdict_small_mgaw(void **state)
{
    Fake *f = fake_new();

    fake_unit(f, "dmar0", (cap_nest & ~CAP_MGAW(64)) | CAP_MGAW(39), ecap_nest);
    fake_device(f, "0000:00:02.0", nic, "1", "vfio-pci", "dmar0", "vfio0");
    fake_cdev(f, "vfio0");
    put_file(f->dev, "iommu", "");
    Probe p = run_probe(f);

    assert_false(p.verdict->available);
    assert_true(has_line(p.text, "nested translation: NOT available — dmar0: MGAW is "
                                 "39 bits"));
    probe_done(&p);
    fake_free(f);
}

static JsonNode *path_node(JsonNode *root, const char *path)
{
    g_autoptr(JsonPath) jp = json_path_new();
    JsonNode *matches, *first;
    JsonArray *arr;

    assert_true(json_path_compile(jp, path, NULL));
    matches = json_path_match(jp, root);
    arr = json_node_get_array(matches);
    assert_int_equal(json_array_get_length(arr), 1);
    first = json_node_copy(json_array_get_element(arr, 0));
    json_node_unref(matches);
    return first;
}

static void test_json(void **state)
{
    Fake *f = fake_reference(false);
    Probe p = run_probe(f);
    g_autofree char *json = probe_format_json(p.host, p.verdict);
    g_autoptr(JsonNode) root = json_from_string(json, NULL);
    g_autoptr(JsonNode) verdict = NULL, nest = NULL, missing = NULL, cdev = NULL;
    g_autoptr(JsonNode) units = NULL, usable = NULL, mgaw = NULL;

    assert_non_null(root);
    verdict = path_node(root, "$.verdict.nested_translation");
    assert_string_equal(json_node_get_string(verdict), "not available");
    units = path_node(root, "$.units");
    assert_int_equal(json_array_get_length(json_node_get_array(units)), 2);
    nest = path_node(root, "$.units[0].ecap_fields.NEST");
    assert_int_equal(json_node_get_int(nest), 1);
    mgaw = path_node(root, "$.units[0].decoded.mgaw_bits");
    assert_int_equal(json_node_get_int(mgaw), 48);
    missing = path_node(root, "$.units[1].nesting_missing");
    JsonArray *m = json_node_get_array(missing);
    assert_int_equal(json_array_get_length(m), 2);
    assert_string_equal(json_array_get_string_element(m, 0), "NEST");
    assert_string_equal(json_array_get_string_element(m, 1), "FSTS");
    cdev = path_node(root, "$.devices[0].vfio_cdev");
    assert_true(g_str_has_suffix(json_node_get_string(cdev), "/vfio/devices/vfio0"));
    usable = path_node(root, "$.verdict.usable_devices");
    assert_int_equal(json_array_get_length(json_node_get_array(usable)), 1);
    probe_done(&p);
    fake_free(f);
}

static void test_options(void **state)
{
    g_autofree char *tmp = g_dir_make_tmp("host-probe-opt-XXXXXX", NULL);
    struct { const char *argv[6]; int argc; bool ok; } cases[] = {
        { { "probe", NULL }, 1, true },
        { { "probe", "--json", "--no-libpci", "--sysfs-root", tmp, NULL }, 5, true },
        { { "probe", "--no-such-option", NULL }, 2, false },
        { { "probe", "positional", NULL }, 2, false },
        { { "probe", "--sysfs-root", "/nonexistent/host-probe", NULL }, 3, false },
        { { "probe", "--dev-root", NULL }, 2, false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        ProbeOptions o = { 0 };
        g_autoptr(GError) err = NULL;
        char **argv = g_strdupv((char **)cases[i].argv);
        char **orig = argv;
        int argc = cases[i].argc;

        /* GOption rearranges argv; keep the original vector for freeing. */
        char **copy = g_new(char *, argc + 1);
        memcpy(copy, argv, sizeof(char *) * (argc + 1));
        bool ok = probe_options_parse(&o, &argc, &copy, &err);
        assert_int_equal(ok, cases[i].ok);
        if (ok) {
            assert_non_null(o.sysfs_root);
            assert_non_null(o.dev_root);
        } else {
            assert_true(g_error_matches(err, PROBE_ERROR, PROBE_ERROR_USAGE));
        }
        if (i == 1) {
            assert_true(o.json && o.no_libpci);
            assert_string_equal(o.sysfs_root, tmp);
        }
        probe_options_clear(&o);
        g_free(copy);
        g_strfreev(orig);
    }
    assert_int_equal(PROBE_EXIT_USAGE, 2);
    g_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_cap),
        cmocka_unit_test(test_decode_ecap),
        cmocka_unit_test(test_field_tables),
        cmocka_unit_test(test_field_format),
        cmocka_unit_test(test_nesting_missing),
        cmocka_unit_test(test_parse_hex),
        cmocka_unit_test(test_parse_version),
        cmocka_unit_test(test_scan_reference),
        cmocka_unit_test(test_verdict_no_dev_iommu),
        cmocka_unit_test(test_verdict_available),
        cmocka_unit_test(test_verdict_fs1gp),
        cmocka_unit_test(test_verdict_only_non_nesting_unit),
        cmocka_unit_test(test_verdict_no_vfio_device),
        cmocka_unit_test(test_verdict_cdev_node_missing),
        cmocka_unit_test(test_verdict_group_not_viable),
        cmocka_unit_test(test_verdict_bad_registers),
        cmocka_unit_test(test_verdict_empty_tree),
        cmocka_unit_test(test_verdict_non_intel_and_cmdline),
        cmocka_unit_test(test_verdict_small_mgaw),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
