/*
 * store/runtime.c — the store thread, the control thread's accounts builder
 * and the admin API's connection (store/runtime.h).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/common.h"
#include "core/log.h"
#include "core/money.h"
#include "core/vkey.h"
#include "store/admin.h"
#include "store/db.h"
#include "store/ingest.h"
#include "store/runtime.h"
#include "store/store.h"

/* Spend of other instances reaches this one's board at least this often (ms). */
#define SPEND_RESYNC_MS 1000
/* After a database failure, the store thread waits this long before trying again (ms). */
#define RECONNECT_MS 500

/* Subject id -> spend slot, for the life of the process (control thread only). */
struct slotmap {
    char **ids; /* owns: open addressing, NULL = empty */
    uint32_t *slots;
    size_t cap, n;
    uint32_t next, max;
};

/* A budgeted subject as the store thread sees it during one pass. */
struct subject {
    char name[64]; /* "k:<id>" or "t:<id>" */
    uint32_t slot;
    struct gw_budget budget;
    bool seen;
};

struct gw_store_rt {
    char url[1024];
    char log_dir[PATH_MAX];
    char master_key[256];
    char boot[24];
    uint32_t flush_ms, resync_ms, timeout_ms;
    struct gw_db *ctl_db;    /* control thread */
    struct gw_db *store_db;  /* store thread; NULL while down */
    struct gw_db *listen_db; /* store thread, PostgreSQL: LISTEN */
    struct gw_db *admin_db;  /* admin thread; NULL while down */
    struct gw_rcu *rcu;
    size_t reader;
    struct gw_spend_board *board;
    struct gw_usage_handoff *const *handoffs;
    unsigned nworkers;
    struct gw_ingest *ing;
    struct slotmap slots;
    pthread_t thread;
    bool thread_live;
    int wake_fd; /* owns: eventfd the control loop polls (gw_store_rt_mark_dirty) */
    struct gw_store_stats stats;
    _Atomic bool stop;
    _Atomic bool dirty;        /* rebuild the accounts */
    _Atomic bool spend_resync; /* reset the board from the database */
    uint64_t last_build_ms;    /* control thread */
    pthread_mutex_t cur_mu;    /* control and admin threads only, never a worker */
    struct gw_accounts *current;
    /* store thread: budgets by slot, copied from the accounts of the pass */
    struct gw_budget *slot_budget;
    struct subject *subjects;
    size_t nsubjects, subjects_cap;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- slots ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static int slotmap_grow(struct slotmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    char **ids = calloc(ncap, sizeof(*ids));
    uint32_t *slots = calloc(ncap, sizeof(*slots));
    if (!ids || !slots) {
        free(ids);
        free(slots);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->ids[i])
            continue;
        size_t j = (size_t)hash_str(m->ids[i]) & (ncap - 1);
        while (ids[j])
            j = (j + 1) & (ncap - 1);
        ids[j] = m->ids[i];
        slots[j] = m->slots[i];
    }
    free(m->ids);
    free(m->slots);
    m->ids = ids;
    m->slots = slots;
    m->cap = ncap;
    return 0;
}

/*
 * The slot of a subject, assigned on first sight and kept for the process's
 * life (its live spend counters stay with it). Slots are not reused: a
 * process that has seen more budgeted subjects than store.max_budgets
 * gives the rest none, and logs it; their budgets then cannot be enforced
 * until a restart, which the log line says.
 */
static uint32_t slot_of(void *arg, const char *id)
{
    struct slotmap *m = arg;
    if ((m->n + 1) * 2 > m->cap && slotmap_grow(m) < 0)
        return GW_SLOT_NONE;
    size_t j = (size_t)hash_str(id) & (m->cap - 1);
    while (m->ids[j]) {
        if (!strcmp(m->ids[j], id))
            return m->slots[j];
        j = (j + 1) & (m->cap - 1);
    }
    if (m->next >= m->max) {
        gw_log_line("store", "error",
                    "store.max_budgets (%u) reached: the budget of %s is not enforced until a "
                    "restart with a larger store.max_budgets",
                    m->max, id);
        return GW_SLOT_NONE;
    }
    m->ids[j] = strdup(id);
    if (!m->ids[j])
        return GW_SLOT_NONE;
    m->slots[j] = m->next++;
    m->n++;
    return m->slots[j];
}

static void slotmap_free(struct slotmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->ids[i]);
    free(m->ids);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* ---- accounts ---- */

static int add_config(struct gw_accounts_builder *b, const struct gw_config *cfg, char *err,
                      size_t errcap)
{
    gw_accounts_add_default_prices(b);
    for (size_t i = 0; i < cfg->nprices; i++) {
        const struct gw_price_override *o = &cfg->prices[i];
        struct gw_price p = {.model = o->model, .source = "config"};
        int64_t *dst[] = {&p.input, &p.output, &p.cached_input, &p.cache_write, &p.embedding};
        double src[] = {o->input, o->output, o->cached_input, o->cache_write, o->embedding};
        for (size_t k = 0; k < GW_ARRAY_SIZE(dst); k++)
            if (src[k] < 0 || !gw_price_usd_to_uusd(src[k], dst[k]))
                *dst[k] = -1;
        if (gw_accounts_set_price(b, &p) < 0) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->nkeys; i++) {
        const struct gw_key *k = &cfg->keys[i];
        char id[160];
        snprintf(id, sizeof(id), "static:%s", k->name);
        struct gw_vkey v = {.id = id,
                            .name = k->name,
                            .enabled = true,
                            .is_static = true,
                            .metadata = "{}",
                            .slot = GW_SLOT_NONE};
        uint8_t d[GW_DIGEST_LEN];
        gw_vkey_digest(k->secret, k->secret_len, d);
        if (gw_accounts_add_key(b, &v, NULL, d, NULL, 0, err, errcap) < 0)
            return -1;
    }
    return 0;
}

struct gw_accounts *gw_store_accounts_from_config(const struct gw_config *cfg, char *err,
                                                  size_t errcap)
{
    struct gw_accounts_builder *b = gw_accounts_builder_new(NULL, NULL);
    if (!b) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    if (add_config(b, cfg, err, errcap) < 0) {
        gw_accounts_builder_free(b);
        return NULL;
    }
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    if (!a)
        snprintf(err, errcap, "out of memory");
    return a;
}

struct gw_accounts *gw_store_rt_build_accounts(struct gw_store_rt *rt, const struct gw_config *cfg)
{
    rt->last_build_ms = mono_ms();
    char err[512];
    struct gw_db_err derr = {0};
    struct gw_accounts_builder *b = gw_accounts_builder_new(slot_of, &rt->slots);
    if (!b)
        return NULL;
    if (add_config(b, cfg, err, sizeof(err)) < 0) {
        gw_log_line("store", "error", "accounts: %s", err);
        goto fail;
    }
    if (!rt->ctl_db && gw_db_open(rt->url, &rt->ctl_db, &derr) < 0) {
        rt->ctl_db = NULL;
        gw_log_line("store", "error", "keys not reloaded: cannot open the store: %s", derr.message);
        goto fail;
    }
    gw_db_set_timeout(rt->ctl_db, rt->timeout_ms);
    if (gw_store_load_accounts(rt->ctl_db, b, &derr) < 0) {
        gw_log_line("store", "error", "keys not reloaded: %s", derr.message);
        if (derr.unavailable) {
            gw_db_close(rt->ctl_db);
            rt->ctl_db = NULL;
        }
        goto fail;
    }
    struct gw_accounts *a = gw_accounts_builder_finish(b);
    if (!a)
        gw_log_line("store", "error", "keys not reloaded: out of memory");
    return a;
fail:
    gw_accounts_builder_free(b);
    return NULL;
}

bool gw_store_rt_dirty(struct gw_store_rt *rt)
{
    /* pairs with the release store in gw_store_rt_mark_dirty */
    if (atomic_exchange_explicit(&rt->dirty, false, memory_order_acq_rel))
        return true;
    return mono_ms() - rt->last_build_ms >= rt->resync_ms;
}

void gw_store_rt_mark_dirty(struct gw_store_rt *rt)
{
    atomic_store_explicit(&rt->spend_resync, true, memory_order_release);
    atomic_store_explicit(&rt->dirty, true, memory_order_release);
    if (rt->wake_fd >= 0) {
        uint64_t one = 1;
        /* EAGAIN (the counter is full) still leaves the fd readable: nothing to do. */
        if (write(rt->wake_fd, &one, sizeof(one)) < 0) {
        }
    }
}

struct gw_store_stats *gw_store_rt_stats(struct gw_store_rt *rt)
{
    return &rt->stats;
}

int gw_store_rt_wake_fd(const struct gw_store_rt *rt)
{
    return rt->wake_fd;
}

void gw_store_rt_set_current(struct gw_store_rt *rt, struct gw_accounts *acc)
{
    if (acc)
        gw_accounts_ref(acc);
    pthread_mutex_lock(&rt->cur_mu);
    struct gw_accounts *old = rt->current;
    rt->current = acc;
    pthread_mutex_unlock(&rt->cur_mu);
    gw_accounts_unref(old);
}

/* ---- admin ---- */

static void admin_changed(void *arg)
{
    gw_store_rt_mark_dirty(arg);
}

static struct gw_accounts *admin_accounts(void *arg)
{
    struct gw_store_rt *rt = arg;
    pthread_mutex_lock(&rt->cur_mu);
    struct gw_accounts *a = rt->current;
    if (a)
        gw_accounts_ref(a);
    pthread_mutex_unlock(&rt->cur_mu);
    return a;
}

void gw_store_rt_admin_handle(void *arg, struct gw_span method, struct gw_span target,
                              struct gw_span authorization, struct gw_span body, int *status,
                              char **body_out, size_t *len_out)
{
    struct gw_store_rt *rt = arg;
    struct gw_db_err derr = {0};
    if (!rt->admin_db) {
        if (gw_db_open(rt->url, &rt->admin_db, &derr) < 0) {
            rt->admin_db = NULL;
            static const char msg[] =
                "{\"error\":{\"message\":\"The key store is unavailable; try again.\","
                "\"type\":\"server_error\",\"param\":null,\"code\":\"store_unavailable\"}}";
            *status = 503;
            *body_out = strdup(msg);
            *len_out = *body_out ? sizeof(msg) - 1 : 0;
            return;
        }
        gw_db_set_timeout(rt->admin_db, rt->timeout_ms);
    }
    struct gw_admin_env env = {.db = rt->admin_db,
                               .master_key = rt->master_key,
                               .changed = admin_changed,
                               .arg = rt,
                               .accounts_get = admin_accounts};
    struct gw_admin_resp resp = {0};
    gw_admin_handle(&env, method, target, authorization, body, &resp);
    if (resp.status == 503) {
        /* The connection may be broken: open a new one for the next request. */
        gw_db_close(rt->admin_db);
        rt->admin_db = NULL;
    }
    *status = resp.status;
    *body_out = resp.body;
    *len_out = resp.len;
}

/* ---- the store thread ---- */

static uint64_t current_file(void *arg, unsigned w)
{
    struct gw_store_rt *rt = arg;
    /* pairs with the worker's release store when it moves to a file */
    return atomic_load_explicit(&rt->handoffs[w]->cur_file, memory_order_acquire);
}

static void applied(void *arg, const struct gw_usage_rec *r, bool this_boot)
{
    struct gw_store_rt *rt = arg;
    if (!this_boot) {
        /* Another process's spend: the resync after this pass counts it. */
        atomic_store_explicit(&rt->spend_resync, true, memory_order_relaxed);
        return;
    }
    if (!r->have_cost || r->cost_pusd <= 0 || r->worker >= rt->nworkers)
        return;
    int64_t t = r->time_ms / 1000;
    uint32_t slots[2] = {r->key_slot, r->team_slot};
    for (int i = 0; i < 2; i++)
        if (slots[i] < rt->board->nslots)
            gw_spend_apply_on_store(rt->board, r->worker, slots[i], &rt->slot_budget[slots[i]], t,
                                    r->cost_pusd);
}

static int subject_cmp(const void *a, const void *b)
{
    return strcmp(((const struct subject *)a)->name, ((const struct subject *)b)->name);
}

/* Copies what the pass needs from the accounts (which the thread may not keep). */
static void take_subjects(struct gw_store_rt *rt, const struct gw_accounts *acc)
{
    rt->nsubjects = 0;
    if (!acc)
        return;
    size_t nk = gw_accounts_nkeys(acc), nt = gw_accounts_nteams(acc);
    if (nk + nt > rt->subjects_cap) {
        struct subject *s = realloc(rt->subjects, (nk + nt) * sizeof(*s));
        if (!s)
            return;
        rt->subjects = s;
        rt->subjects_cap = nk + nt;
    }
    for (size_t i = 0; i < nk + nt; i++) {
        const struct gw_vkey *k = i < nk ? gw_accounts_key_at(acc, i) : NULL;
        const struct gw_team *tm = i < nk ? NULL : gw_accounts_team_at(acc, i - nk);
        uint32_t slot = k ? k->slot : tm->slot;
        const struct gw_budget *b = k ? &k->budget : &tm->budget;
        if (slot >= rt->board->nslots || !b->set)
            continue;
        rt->slot_budget[slot] = *b;
        struct subject *s = &rt->subjects[rt->nsubjects++];
        snprintf(s->name, sizeof(s->name), "%c:%s", k ? 'k' : 't', k ? k->id : tm->id);
        s->slot = slot;
        s->budget = *b;
        s->seen = false;
    }
    qsort(rt->subjects, rt->nsubjects, sizeof(*rt->subjects), subject_cmp);
}

struct resync_ctx {
    struct gw_store_rt *rt;
    enum gw_period period;
    int64_t start;
};

static void resync_row(void *arg, const char *subject, int64_t pusd)
{
    struct resync_ctx *x = arg;
    struct subject key;
    snprintf(key.name, sizeof(key.name), "%s", subject);
    struct subject *s = bsearch(&key, x->rt->subjects, x->rt->nsubjects, sizeof(key), subject_cmp);
    if (!s || s->budget.period != x->period)
        return;
    s->seen = true;
    gw_spend_set_on_store(x->rt->board, s->slot, x->start, pusd < 0 ? 0 : pusd);
}

/* Sets every budgeted subject's settled spend to the database's figure. */
static int spend_resync(struct gw_store_rt *rt, struct gw_db_err *err)
{
    int64_t now = (int64_t)time(NULL);
    for (int p = 0; p < GW_PERIOD_COUNT; p++) {
        bool any = false;
        for (size_t i = 0; i < rt->nsubjects; i++)
            any |= rt->subjects[i].budget.period == (enum gw_period)p;
        if (!any)
            continue;
        struct resync_ctx x = {rt, (enum gw_period)p, 0};
        int64_t end;
        gw_period_bounds((enum gw_period)p, now, &x.start, &end);
        if (gw_store_spend_since(rt->store_db, gw_days_from_unix(x.start), resync_row, &x, err) < 0)
            return -1;
        for (size_t i = 0; i < rt->nsubjects; i++) {
            struct subject *s = &rt->subjects[i];
            if (s->budget.period == (enum gw_period)p && !s->seen)
                gw_spend_set_on_store(rt->board, s->slot, x.start, 0);
            s->seen = false;
        }
    }
    return 0;
}

/* Opens each worker's next log file ahead, so rotation never opens a file on a worker. */
static void open_next_files(struct gw_store_rt *rt)
{
    for (unsigned w = 0; w < rt->nworkers; w++) {
        struct gw_usage_handoff *h = rt->handoffs[w];
        if (atomic_load_explicit(&h->next_fd, memory_order_acquire) >= 0)
            continue;
        uint64_t next = atomic_load_explicit(&h->cur_file, memory_order_acquire) + 1;
        int fd = gw_usage_log_open(rt->log_dir, rt->boot, w, next);
        if (fd < 0) {
            gw_log_line("store", "error", "cannot open the next usage log of worker %u in %s: %s",
                        w, rt->log_dir, strerror(-fd));
            continue;
        }
        atomic_store_explicit(&h->next_file, next, memory_order_relaxed);
        /* pairs with the worker's acquire exchange */
        atomic_store_explicit(&h->next_fd, fd, memory_order_release);
    }
}

static bool store_connect(struct gw_store_rt *rt)
{
    if (rt->store_db)
        return true;
    struct gw_db_err err = {0};
    if (gw_db_open(rt->url, &rt->store_db, &err) < 0) {
        rt->store_db = NULL;
        return false;
    }
    gw_db_set_timeout(rt->store_db, rt->timeout_ms);
    return true;
}

static void store_drop(struct gw_store_rt *rt, const char *what, const struct gw_db_err *err)
{
    gw_log_line("store", "warn", "%s: %s (records wait in %s and are inserted when it is back)",
                what, err->message, rt->log_dir);
    if (err->unavailable) {
        gw_db_close(rt->store_db);
        rt->store_db = NULL;
    }
}

/* The ingester's figures, for /metrics (relaxed: independent counters). */
static void publish_stats(struct gw_store_rt *rt, bool ok)
{
    const struct gw_ingest_stats *is = gw_ingest_stats(rt->ing);
    atomic_store_explicit(&rt->stats.records, is->records, memory_order_relaxed);
    atomic_store_explicit(&rt->stats.batches, is->batches, memory_order_relaxed);
    atomic_store_explicit(&rt->stats.failures, is->failures, memory_order_relaxed);
    atomic_store_explicit(&rt->stats.bad_lines, is->bad_lines, memory_order_relaxed);
    atomic_store_explicit(&rt->stats.backlog_bytes, is->backlog_bytes, memory_order_relaxed);
    if (ok)
        atomic_store_explicit(&rt->stats.last_insert, (int64_t)time(NULL), memory_order_relaxed);
}

/* One pass: returns true when it got through (the database answered). */
static bool store_pass(struct gw_store_rt *rt, uint64_t *last_resync)
{
    struct gw_config *snap = gw_rcu_current(rt->rcu);
    take_subjects(rt, snap ? snap->accounts : NULL);
    /* Nothing of the snapshot is used past this point: copied above. */
    gw_rcu_quiesce_on_worker(rt->rcu, rt->reader, snap ? snap->generation : UINT64_MAX);
    open_next_files(rt);
    if (!store_connect(rt))
        return false;
    struct gw_db_err err = {0};
    bool resync = atomic_exchange_explicit(&rt->spend_resync, false, memory_order_acq_rel) ||
                  mono_ms() - *last_resync >= SPEND_RESYNC_MS;
    /* Resync first after a start, so that records applied below land on current cells. */
    if (resync) {
        if (spend_resync(rt, &err) < 0) {
            atomic_store_explicit(&rt->spend_resync, true, memory_order_relaxed);
            store_drop(rt, "spend not resynchronised", &err);
            return false;
        }
        *last_resync = mono_ms();
    }
    int64_t got = gw_ingest_run(rt->ing, rt->store_db, &err);
    publish_stats(rt, got >= 0);
    if (got < 0) {
        store_drop(rt, "usage not inserted", &err);
        return false;
    }
    return true;
}

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *store_main(void *arg)
{
    struct gw_store_rt *rt = arg;
    gw_rcu_online_on_worker(rt->rcu, rt->reader);
    uint64_t last_resync = 0;
    atomic_store_explicit(&rt->spend_resync, true, memory_order_relaxed);
    bool pg = !strncmp(rt->url, "postgres", 8);
    while (!atomic_load_explicit(&rt->stop, memory_order_acquire)) {
        bool ok = store_pass(rt, &last_resync);
        uint32_t wait = ok ? rt->flush_ms : RECONNECT_MS;
        if (pg) {
            if (!rt->listen_db) {
                struct gw_db_err err = {0};
                if (gw_db_open(rt->url, &rt->listen_db, &err) == 0 &&
                    gw_db_listen(rt->listen_db, GW_STORE_CHANNEL, &err) == 0) {
                    /* Changes made while nobody listened: catch up. */
                    gw_store_rt_mark_dirty(rt);
                } else {
                    gw_db_close(rt->listen_db);
                    rt->listen_db = NULL;
                }
            }
            int got = rt->listen_db ? gw_db_wait_notify(rt->listen_db, (int)wait) : 0;
            if (got > 0)
                gw_store_rt_mark_dirty(rt);
            else if (got < 0) {
                gw_db_close(rt->listen_db);
                rt->listen_db = NULL;
                sleep_ms(GW_MIN(wait, 50u));
            } else if (!rt->listen_db) {
                sleep_ms(wait);
            }
        } else {
            for (uint32_t t = 0; t < wait && !atomic_load_explicit(&rt->stop, memory_order_acquire);
                 t += 20)
                sleep_ms(GW_MIN(20u, wait - t));
        }
    }
    /* The workers have stopped: insert what they wrote last, a few tries at most. */
    for (int i = 0; i < 5 && !store_pass(rt, &last_resync); i++)
        sleep_ms(RECONNECT_MS);
    gw_rcu_quiesce_on_worker(rt->rcu, rt->reader, UINT64_MAX);
    return NULL;
}

/* ---- start and stop ---- */

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int gw_store_migrate_url(const char *url, char *err, size_t errcap)
{
    struct gw_db *db;
    struct gw_db_err derr = {0};
    if (gw_db_open(url, &db, &derr) < 0) {
        snprintf(err, errcap, "%s", derr.message);
        return -1;
    }
    int from = 0, to = 0;
    int rc = gw_store_migrate(db, &from, &to, &derr);
    if (rc < 0)
        snprintf(err, errcap, "%s", derr.message);
    else if (from == to)
        snprintf(err, errcap, "schema is up to date (version %d)", to);
    else
        snprintf(err, errcap, "schema migrated from version %d to %d", from, to);
    gw_db_close(db);
    return rc;
}

struct gw_store_rt *gw_store_rt_start(const struct gw_config *cfg, struct gw_rcu *rcu,
                                      size_t rcu_reader, struct gw_spend_board *board,
                                      struct gw_usage_handoff *const *handoffs, unsigned nworkers,
                                      const char *boot, char *err, size_t errcap)
{
    struct gw_store_rt *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&rt->cur_mu, NULL);
    rt->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt->wake_fd < 0) {
        snprintf(err, errcap, "eventfd: %s", strerror(errno));
        goto fail;
    }
    snprintf(rt->url, sizeof(rt->url), "%s", cfg->store.url);
    snprintf(rt->log_dir, sizeof(rt->log_dir), "%s", cfg->store.log_dir);
    snprintf(rt->master_key, sizeof(rt->master_key), "%s", cfg->admin.master_key);
    snprintf(rt->boot, sizeof(rt->boot), "%s", boot);
    rt->flush_ms = cfg->store.flush_interval_ms;
    rt->resync_ms = cfg->store.resync_interval_ms;
    rt->timeout_ms = cfg->store.timeout_ms;
    rt->rcu = rcu;
    rt->reader = rcu_reader;
    rt->board = board;
    rt->handoffs = handoffs;
    rt->nworkers = nworkers;
    rt->slots.max = board->nslots;
    rt->slot_budget = calloc(board->nslots, sizeof(*rt->slot_budget));
    if (!rt->slot_budget) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    char redacted[1024];
    gw_db_url_redact(rt->url, redacted, sizeof(redacted));
    struct gw_db_err derr = {0};
    if (gw_db_open(rt->url, &rt->ctl_db, &derr) < 0) {
        rt->ctl_db = NULL;
        snprintf(err, errcap, "store %s: %s", redacted, derr.message);
        goto fail;
    }
    gw_db_set_timeout(rt->ctl_db, rt->timeout_ms);
    int from = 0, to = 0;
    if (gw_store_migrate(rt->ctl_db, &from, &to, &derr) < 0) {
        snprintf(err, errcap, "store %s: %s", redacted, derr.message);
        goto fail;
    }
    if (from != to)
        gw_log_line("store", "info", "store %s: schema migrated from version %d to %d", redacted,
                    from, to);
    int r = mkdir_p(rt->log_dir);
    if (r < 0) {
        snprintf(err, errcap, "store.log_dir %s: %s", rt->log_dir, strerror(-r));
        goto fail;
    }
    for (unsigned w = 0; w < nworkers; w++) {
        atomic_store_explicit(&handoffs[w]->cur_file, 0, memory_order_relaxed);
        atomic_store_explicit(&handoffs[w]->next_fd, -1, memory_order_relaxed);
    }
    open_next_files(rt);
    for (unsigned w = 0; w < nworkers; w++) {
        if (atomic_load_explicit(&handoffs[w]->next_fd, memory_order_relaxed) < 0) {
            snprintf(err, errcap, "cannot create usage log files in %s", rt->log_dir);
            goto fail;
        }
    }
    struct gw_ingest_cfg icfg = {.dir = rt->log_dir,
                                 .boot = rt->boot,
                                 .nworkers = nworkers,
                                 .current_file = current_file,
                                 .applied = applied,
                                 .arg = rt};
    rt->ing = gw_ingest_new(&icfg);
    if (!rt->ing) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    return rt;
fail:
    gw_store_rt_stop(rt);
    return NULL;
}

/* Starts the thread once the workers (who take their first files) are running. */
int gw_store_rt_run(struct gw_store_rt *rt)
{
    int r = pthread_create(&rt->thread, NULL, store_main, rt);
    if (r)
        return -r;
    rt->thread_live = true;
    return 0;
}

void gw_store_rt_stop(struct gw_store_rt *rt)
{
    if (!rt)
        return;
    atomic_store_explicit(&rt->stop, true, memory_order_release);
    if (rt->thread_live)
        pthread_join(rt->thread, NULL);
    for (unsigned w = 0; rt->handoffs && w < rt->nworkers; w++) {
        int fd = atomic_exchange_explicit(&rt->handoffs[w]->next_fd, -1, memory_order_acquire);
        if (fd >= 0)
            close(fd);
    }
    gw_ingest_free(rt->ing);
    gw_db_close(rt->ctl_db);
    gw_db_close(rt->store_db);
    gw_db_close(rt->listen_db);
    gw_db_close(rt->admin_db);
    gw_accounts_unref(rt->current);
    slotmap_free(&rt->slots);
    free(rt->slot_budget);
    free(rt->subjects);
    pthread_mutex_destroy(&rt->cur_mu);
    if (rt->wake_fd >= 0)
        close(rt->wake_fd);
    free(rt);
}
