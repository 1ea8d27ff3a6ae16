/*
 * qtest for the blade-chassis machine: it starts without a CPU and is
 * listed among the machines.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"

static void test_machine_listed(void)
{
    QTestState *qts = qtest_init("-M blade-chassis");
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-machines' }");
    QList *machines = qdict_get_qlist(resp, "return");
    const QListEntry *e;
    bool found = false;

    g_assert_nonnull(machines);
    QLIST_FOREACH_ENTRY(machines, e) {
        QDict *m = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(m, "name"), "blade-chassis")) {
            found = true;
        }
    }
    g_assert_true(found);
    qobject_unref(resp);
    qtest_quit(qts);
}

/* The chassis runs no guest code: it has no CPU. */
static void test_no_cpu(void)
{
    QTestState *qts = qtest_init("-M blade-chassis");
    QDict *resp = qtest_qmp(qts, "{ 'execute': 'query-cpus-fast' }");

    g_assert_cmpuint(qlist_size(qdict_get_qlist(resp, "return")), ==, 0);
    qobject_unref(resp);

    resp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                     "{ 'path': '/machine', 'property': 'type' } }");
    g_assert_cmpstr(qdict_get_str(resp, "return"), ==,
                    "blade-chassis-machine");
    qobject_unref(resp);
    qtest_quit(qts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-chassis/listed", test_machine_listed);
    qtest_add_func("/blade-chassis/no-cpu", test_no_cpu);
    return g_test_run();
}
