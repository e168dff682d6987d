/* mixfloor: the floor for the engine's work per SYN on BenchmarkMix's two
 * streams (pkg/engine, the normal and the hostile mix), written to be as
 * fast as this machine allows rather than to match the engine record for
 * record. It does, per SYN, what the engine must do to write what it writes:
 *
 * - the clock: frames more than a week ahead are held until 64 in a row
 *   confirm the jump, else analysed at the clock; earlier frames are analysed at their own
 *   time; windows of 5 minutes close as the clock passes them;
 * - the window's distinct targets (a set cleared each window);
 * - the source: seen in the last 24 h or new; a new source's /24 or /48 new
 *   or not; a new source not in the table looked for in the memory of
 *   forgotten sources (7 days of fingerprints); sources kept within a cap
 *   of 100,000 (at the cap a new source evicts an expired or the longest
 *   silent one-SYN source near its place, which goes to the memory); a
 *   source's distinct hosts in the scan interval (5 minutes) counted to
 *   25, when it is a scanner (a record);
 * - a new source's target counted per second over 10 seconds: 50 new
 *   sources at one target in the span is a flood; new sources wait 10 s in a
 *   delay line and are then written (their fields summed into a checksum)
 *   or summed into the flood's count.
 *
 * Its tables are set-associative (a source's bucket is two or four cache
 * lines, everything else one line), timestamps instead of generations
 * (nothing to rotate or drain), and every line a SYN needs is prefetched
 * eight SYNs ahead. It leaves out what the engine does besides (activity,
 * the top list, heavy counts, per-host port scans: the streams have one
 * port), so it is a floor, not a peer.
 *
 * Usage: mixfloor ROUNDS FILE... (records of BenchmarkMixFloor's dump).
 * Prints, per file, the median ns per SYN over the rounds and the counts.
 * Built and run by `go test ./pkg/engine -run '^$' -bench MixFloor`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define NS 1000000000LL
#define WINDOW (300 * NS)
#define LOOKBACK (86400 * NS)
#define MAXGAP (7 * 86400 * NS)
#define CONFIRM 64
#define CAP 100000
#define SCANHOSTS 25
#define SCANINT (300 * NS)
#define FLOODTHR 50
#define FLOODSPAN (10 * NS)
#define REMEMBER_LOOKBACKS 7
#define PEND 8
#ifndef AHEAD
#define AHEAD 8
#endif

struct rec { /* 48 bytes, little-endian, as BenchmarkMixFloor writes them */
	int64_t ts;
	uint8_t src[16], dst[16];
	uint16_t dport;
	uint8_t flags, v6;
	uint8_t pad[4];
};

static inline uint64_t mix64(uint64_t x) {
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}
static inline uint64_t lo64(const uint8_t *a) { uint64_t x; memcpy(&x, a, 8); return x; }
static inline uint32_t lo32(const uint8_t *a) { uint32_t x; memcpy(&x, a, 4); return x; }
static inline uint64_t hash_src(const struct rec *r) {
	return r->v6 ? mix64(mix64(lo64(r->src)) ^ lo64(r->src + 8)) : mix64(lo32(r->src) | 4ULL << 32);
}
static inline uint64_t hash_dst(const struct rec *r) {
	return mix64(lo64(r->dst) ^ lo64(r->dst + 8) * 0x9e3779b97f4a7c15ULL);
}
static inline uint64_t hash_pfx(const struct rec *r, uint64_t *key) {
	*key = r->v6 ? (lo64(r->src) & 0xffffffffffffULL) | 6ULL << 56 : (lo32(r->src) & 0xffffff) | 4ULL << 56;
	return mix64(*key);
}

/* Sources: times are seconds since the run's base + 1 (0: a free entry). */
struct e4 { uint32_t addr, last, first, syns, epoch, flags; uint64_t hosts; };          /* 32 B */
struct e6 { uint8_t addr[16]; uint32_t last, first, syns, epoch, flags, pad; uint64_t hosts, pad2[2]; }; /* 64 B */
#define W4 4 /* entries a bucket: 128 B */
#define W6 2 /* 128 B */
struct b4 { struct e4 e[W4]; } __attribute__((aligned(64)));
struct b6 { struct e6 e[W6]; } __attribute__((aligned(64)));
/* Prefixes: key and last second, 16 B, 4 a line. */
struct pe { uint64_t key; uint32_t last, pad; };
struct pb { struct pe e[4]; } __attribute__((aligned(64)));
/* The memory: 24-bit fingerprint << 8 | lookback number mod 256. */
struct mb { uint32_t e[16]; } __attribute__((aligned(64)));
/* Flood targets: tag, latest second, new sources in each of 10 seconds. */
struct fe { uint32_t tag, sec; uint16_t cnt[10]; uint32_t flooding; };
struct fb { struct fe e[2]; } __attribute__((aligned(64)));
/* The window's targets: open addressing, a slot current when its window
 * number is the window's. */
struct te { uint64_t tag; uint64_t win; };
/* The delay line's entries. */
struct held { int64_t ts; uint8_t src[16], dst[16]; uint32_t target; uint16_t dport; uint8_t v6, returning; uint8_t pad[8]; };

struct floor {
	struct b4 *s4; uint64_t m4;
	struct b6 *s6; uint64_t m6;
	struct pb *p; uint64_t mp;
	struct mb *m; uint64_t mm;
	struct fb *f; uint64_t mf;
	struct te *t; uint64_t mt;
	struct held *line; uint64_t lmask, lhead, ltail;
	int64_t base, clock, winEnd, win;
	uint64_t live, plive;
	struct rec heldJump[CONFIRM]; int nheld;
	/* Insertions into the memory wait PEND more, their line prefetched. */
	uint64_t pend[PEND]; int64_t pendTs[PEND]; unsigned npend;
	/* counts */
	uint64_t syns, newSrc, returning, recalled, evicted, untracked, newPfx, scans, floodSrc, written, jumps, jumped, windows, targets;
	uint64_t sink;
};

/* Tables in huge pages where the kernel gives them (a random line is then
 * no TLB miss), zeroed and faulted in before the clock starts. */
static void *zalloc(size_t n) {
	size_t huge = 2 << 20, size = (n + huge - 1) / huge * huge;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) { perror("mmap"); exit(1); }
#ifndef NOHUGE
	madvise(p, size, MADV_HUGEPAGE);
#endif
	memset(p, 0, size);
	return p;
}
static void zfree(void *p, size_t n) {
	size_t huge = 2 << 20;
	munmap(p, (n + huge - 1) / huge * huge);
}
static uint64_t pow2(uint64_t n) { uint64_t p = 1; while (p < n) p <<= 1; return p; }

static void init(struct floor *F) {
	memset(F, 0, sizeof *F);
	uint64_t n4 = pow2(CAP * 13 / 10 / W4), n6 = pow2(CAP * 13 / 10 / W6 / 2), np = pow2(CAP * 13 / 10 / 4);
	uint64_t nm = pow2((uint64_t)CAP * REMEMBER_LOOKBACKS * 5 / 4 / 16), nf = 1 << 13, nt = 1 << 18, nl = 1 << 20;
	F->s4 = zalloc(n4 * sizeof *F->s4); F->m4 = n4 - 1;
	F->s6 = zalloc(n6 * sizeof *F->s6); F->m6 = n6 - 1;
	F->p = zalloc(np * sizeof *F->p); F->mp = np - 1;
	F->m = zalloc(nm * sizeof *F->m); F->mm = nm - 1;
	F->f = zalloc(nf * sizeof *F->f); F->mf = nf - 1;
	F->t = zalloc(nt * sizeof *F->t); F->mt = nt - 1;
	F->line = zalloc(nl * sizeof *F->line); F->lmask = nl - 1;
}
static void fini(struct floor *F) {
	zfree(F->s4, (F->m4 + 1) * sizeof *F->s4), zfree(F->s6, (F->m6 + 1) * sizeof *F->s6);
	zfree(F->p, (F->mp + 1) * sizeof *F->p), zfree(F->m, (F->mm + 1) * sizeof *F->m);
	zfree(F->f, (F->mf + 1) * sizeof *F->f), zfree(F->t, (F->mt + 1) * sizeof *F->t);
	zfree(F->line, (F->lmask + 1) * sizeof *F->line);
}

static inline uint32_t secOf(struct floor *F, int64_t ts) {
	int64_t s = (ts - F->base) / NS + 1;
	return s < 1 ? 1 : (uint32_t)s;
}
static inline uint32_t lbOf(struct floor *F, int64_t ts) { return (uint32_t)((ts - F->base) / LOOKBACK) & 0xff; }

/* The memory of forgotten sources. */
static inline int remembered(struct floor *F, uint64_t h, int64_t ts) {
	struct mb *b = &F->m[(h >> 40) & F->mm];
	uint32_t fp = (uint32_t)h & 0xffffff00, now = lbOf(F, ts);
	for (unsigned i = 0; i < PEND && i < F->npend; i++)
		if (((uint32_t)F->pend[i] & 0xffffff00) == fp && ((F->pend[i] >> 40) & F->mm) == ((h >> 40) & F->mm)) return 1;
	for (int i = 0; i < 16; i++) {
		uint32_t e = b->e[i];
		if (e && (e & 0xffffff00) == fp && ((now - e) & 0xff) < REMEMBER_LOOKBACKS) return 1;
	}
	return 0;
}
static inline void memStore(struct floor *F, uint64_t h, int64_t ts) {
	struct mb *b = &F->m[(h >> 40) & F->mm];
	uint32_t now = lbOf(F, ts), e = ((uint32_t)h & 0xffffff00) | now;
	int best = 0; uint32_t bestAge = 0;
	for (int i = 0; i < 16; i++) {
		uint32_t age = b->e[i] ? (now - b->e[i]) & 0xff : 256;
		if (age > bestAge) bestAge = age, best = i;
	}
	b->e[best] = e;
}

/* remember puts a forgotten source in the memory PEND insertions later; a
 * waiting one counts as remembered (remembered looks in the queue). */
static inline void remember(struct floor *F, uint64_t h, int64_t ts) {
	unsigned i = F->npend++ % PEND;
	if (F->npend > PEND) memStore(F, F->pend[i], F->pendTs[i]);
	F->pend[i] = h, F->pendTs[i] = ts;
	__builtin_prefetch(&F->m[(h >> 40) & F->mm], 1);
}

/* A prefix's first SYN in the lookback. */
static inline int prefixNew(struct floor *F, const struct rec *r, uint32_t now) {
	uint64_t key, h = hash_pfx(r, &key);
	struct pb *b = &F->p[(h >> 20) & F->mp];
	int victim = -1; uint32_t oldest = UINT32_MAX;
	for (int i = 0; i < 4; i++) {
		struct pe *e = &b->e[i];
		if (e->last && e->key == key) {
			int isNew = now - e->last > LOOKBACK / NS;
			e->last = now;
			return isNew;
		}
		uint32_t l = e->last;
		if (l < oldest) oldest = l, victim = i;
	}
	if (oldest == 0 || now - oldest > LOOKBACK / NS || F->plive < CAP) {
		if (oldest == 0) F->plive++;
		b->e[victim] = (struct pe){key, now, 0};
	}
	return 1;
}

static inline void target(struct floor *F, const struct rec *r) {
	uint64_t h = hash_dst(r), tag = h | 1;
	for (uint64_t i = h >> 30;; i++) {
		struct te *e = &F->t[i & F->mt];
		if (e->win != (uint64_t)F->win + 1) {
			*e = (struct te){tag, (uint64_t)F->win + 1};
			F->targets++;
			return;
		}
		if (e->tag == tag) return;
	}
}

/* A new source at its target: counted, and a flood when 50 came in 10 s. */
static inline int floodCount(struct floor *F, const struct rec *r, uint32_t *tagOut) {
	uint64_t h = hash_dst(r);
	uint32_t tag = (uint32_t)(h >> 32) | 1, sec = secOf(F, r->ts);
	struct fb *b = &F->f[h & F->mf];
	struct fe *e = b->e[0].tag == tag ? &b->e[0] : b->e[1].tag == tag ? &b->e[1] : NULL;
	if (!e) {
		e = b->e[0].sec <= b->e[1].sec ? &b->e[0] : &b->e[1];
		memset(e, 0, sizeof *e);
		e->tag = tag, e->sec = sec;
	}
	if (sec > e->sec) {
		for (uint32_t s = e->sec + 1; s <= sec && s <= e->sec + 10; s++) e->cnt[s % 10] = 0;
		e->sec = sec;
	}
	e->cnt[sec % 10]++;
	unsigned n = 0;
	for (int i = 0; i < 10; i++) n += e->cnt[i];
	if (n >= FLOODTHR) e->flooding = 1;
	else if (n < FLOODTHR / 2) e->flooding = 0;
	*tagOut = (uint32_t)(e - &F->f[0].e[0]);
	return e->flooding;
}

static inline void release(struct floor *F, int64_t now) {
	while (F->ltail != F->lhead) {
		struct held *x = &F->line[F->ltail & F->lmask];
		if (x->ts > now - FLOODSPAN) break;
		struct fe *e = &F->f[0].e[0] + x->target;
		if (e->flooding) F->floodSrc++;
		else {
			F->sink += (uint64_t)x->ts ^ lo64(x->src) ^ lo64(x->src + 8) ^ lo64(x->dst) ^ x->dport ^ x->returning;
			F->written++;
		}
		F->ltail++;
	}
}

static inline void newSource(struct floor *F, const struct rec *r, int returning) {
	uint32_t tag;
	floodCount(F, r, &tag);
	release(F, r->ts);
	struct held *x = &F->line[F->lhead++ & F->lmask];
	x->ts = r->ts, x->target = tag, x->dport = r->dport, x->v6 = r->v6, x->returning = (uint8_t)returning;
	memcpy(x->src, r->src, 16), memcpy(x->dst, r->dst, 16);
	if (F->lhead - F->ltail > F->lmask) F->ltail++; /* never here with these streams */
}

/* Hosts in the scan interval: a 64-bit linear-counting bitmap; 21 bits set
 * is about 25 distinct hosts. */
#define SCANBITS 21

#define SOURCE(E, B, W, MATCH, SETKEY, VHASH)                                                \
	do {                                                                                 \
		uint32_t epoch = (uint32_t)((r->ts - F->base) / SCANINT);                       \
		E *free_ = NULL, *stale = NULL, *victim = NULL;                                   \
		for (int i = 0; i < W; i++) {                                                     \
			E *e = &(B)->e[i];                                                            \
			if (!e->last) {                                                               \
				if (!free_) free_ = e;                                                    \
				continue;                                                                 \
			}                                                                             \
			int old = now > e->last && now - e->last > LOOKBACK / NS;                    \
			if (MATCH) {                                                                  \
				if (!old) {                                                               \
					if (e->epoch != epoch) e->epoch = epoch, e->hosts = 0;                \
					uint64_t bit = 1ULL << (hash_dst(r) & 63);                            \
					if (!(e->hosts & bit)) {                                              \
						e->hosts |= bit;                                                  \
						if (__builtin_popcountll(e->hosts) == SCANBITS)                   \
							F->scans++, F->sink += e->syns;                               \
					}                                                                     \
					if (now > e->last) e->last = now;                                     \
					e->syns++;                                                            \
					return;                                                               \
				}                                                                         \
				F->returning++, F->newSrc++;                                              \
				e->last = e->first = now, e->syns = 1, e->epoch = epoch;                  \
				e->hosts = 1ULL << (hash_dst(r) & 63);                                    \
				newSource(F, r, 1);                                                       \
				return;                                                                   \
			}                                                                             \
			if (old) {                                                                    \
				if (!stale) stale = e;                                                    \
			} else if (e->syns == 1 && (!victim || e->last < victim->last))               \
				victim = e;                                                               \
		}                                                                                 \
		F->newSrc++;                                                                      \
		int ret = remembered(F, h, r->ts);                                                \
		if (ret) F->recalled++, F->returning++;                                           \
		E *e = NULL;                                                                      \
		if (stale) e = stale; /* expired: to the memory */                               \
		else if (free_ && F->live < CAP) e = free_, F->live++;                           \
		else if (victim) e = victim, F->evicted++;                                        \
		if (e) {                                                                          \
			if (e->last) remember(F, VHASH, r->ts);                                       \
			SETKEY;                                                                       \
			e->last = e->first = now, e->syns = 1, e->epoch = epoch, e->flags = 0;        \
			e->hosts = 1ULL << (hash_dst(r) & 63);                                        \
		} else {                                                                          \
			F->untracked++;                                                               \
			remember(F, h, r->ts);                                                        \
		}                                                                                 \
		newSource(F, r, ret);                                                             \
	} while (0)

static void source4(struct floor *F, const struct rec *r, uint64_t h, uint32_t now) {
	struct b4 *b = &F->s4[(h >> 20) & F->m4];
	uint32_t a = lo32(r->src);
	SOURCE(struct e4, b, W4, e->addr == a, e->addr = a, mix64(e->addr | 4ULL << 32));
}
static void source6(struct floor *F, const struct rec *r, uint64_t h, uint32_t now) {
	struct b6 *b = &F->s6[(h >> 20) & F->m6];
	SOURCE(struct e6, b, W6, !memcmp(e->addr, r->src, 16), memcpy(e->addr, r->src, 16),
	       mix64(mix64(lo64(e->addr)) ^ lo64(e->addr + 8)));
}

static inline void closeWindows(struct floor *F, int64_t ts) {
	while (ts >= F->winEnd) {
		F->windows++;
		F->sink += F->newSrc ^ F->targets;
		F->win++;
		F->winEnd += WINDOW;
		if (F->winEnd + 10 * LOOKBACK < ts) /* a believed jump: skip to its window */
			F->winEnd = ts - (ts - F->base) % WINDOW + WINDOW, F->win += 1 << 20;
	}
}

static void syn(struct floor *F, const struct rec *r) {
	F->syns++;
	uint32_t now = secOf(F, r->ts);
	target(F, r);
	if (prefixNew(F, r, now)) F->newPfx++;
	uint64_t h = hash_src(r);
	if (r->v6) source6(F, r, h, now);
	else source4(F, r, h, now);
}

static void frame(struct floor *F, const struct rec *r);

static void accept(struct floor *F, const struct rec *r) {
	if (r->ts > F->clock) {
		F->clock = r->ts;
		closeWindows(F, r->ts);
	}
	if (r->flags == 2) syn(F, r);
}

static void frame(struct floor *F, const struct rec *r) {
	if (F->clock && r->ts > F->clock + MAXGAP) {
		F->heldJump[F->nheld++] = *r;
		if (F->nheld == CONFIRM) {
			F->jumps++;
			for (int i = 0; i < CONFIRM; i++) accept(F, &F->heldJump[i]);
			F->nheld = 0;
		}
		return;
	}
	for (int i = 0; i < F->nheld; i++) { /* not believed: analysed at the clock */
		F->heldJump[i].ts = F->clock;
		accept(F, &F->heldJump[i]);
	}
	F->jumped += F->nheld, F->nheld = 0;
	accept(F, r);
}

static void prefetch(struct floor *F, const struct rec *r) {
	uint64_t h = hash_src(r), key, hp = hash_pfx(r, &key), hd = hash_dst(r);
	if (r->v6) {
		const char *b = (const char *)&F->s6[(h >> 20) & F->m6];
		__builtin_prefetch(b, 1), __builtin_prefetch(b + 64, 1);
	} else {
		const char *b = (const char *)&F->s4[(h >> 20) & F->m4];
		__builtin_prefetch(b, 1), __builtin_prefetch(b + 64, 1);
	}
	__builtin_prefetch(&F->p[(hp >> 20) & F->mp], 1);
	__builtin_prefetch(&F->m[(h >> 40) & F->mm], 1);
	__builtin_prefetch(&F->f[hd & F->mf], 1);
	__builtin_prefetch(&F->t[(hd >> 30) & F->mt], 1);
}

static double now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}
static int cmpd(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: mixfloor ROUNDS FILE...\n");
		return 2;
	}
	int rounds = atoi(argv[1]);
	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "mixfloor: ROUNDS %s: want 1 to 1000\n", argv[1]);
		return 2;
	}
	for (int a = 2; a < argc; a++) {
		FILE *fp = fopen(argv[a], "rb");
		if (!fp) { perror(argv[a]); return 1; }
		fseek(fp, 0, SEEK_END);
		long size = ftell(fp);
		rewind(fp);
		if (size <= 0 || size % (long)sizeof(struct rec)) {
			fprintf(stderr, "mixfloor: %s: not a whole number of %zu-byte records\n", argv[a], sizeof(struct rec));
			return 1;
		}
		size_t n = size / sizeof(struct rec);
		struct rec *rs = malloc(size);
		if (!rs || fread(rs, sizeof *rs, n, fp) != n) { perror(argv[a]); return 1; }
		fclose(fp);
		double *t = calloc(rounds, sizeof *t);
		struct floor F;
		for (int k = 0; k < rounds; k++) {
			init(&F);
			F.base = rs[0].ts - rs[0].ts % WINDOW;
			F.winEnd = F.base + WINDOW;
			double t0 = now_ns();
			for (size_t i = 0; i < n; i++) {
				if (i + AHEAD < n && rs[i + AHEAD].flags == 2) prefetch(&F, &rs[i + AHEAD]);
				frame(&F, &rs[i]);
			}
			release(&F, INT64_MAX);
			t[k] = now_ns() - t0;
			if (k + 1 < rounds) fini(&F);
		}
		qsort(t, rounds, sizeof *t, cmpd);
		printf("%s: %.1f ns/syn, syns %lu new %lu returning %lu recalled %lu evicted %lu untracked %lu new_prefixes %lu scans %lu flood_sources %lu written %lu jumps %lu jumped %lu windows %lu sink %lx\n",
		       argv[a], t[rounds / 2] / (double)F.syns, F.syns, F.newSrc, F.returning, F.recalled, F.evicted, F.untracked,
		       F.newPfx, F.scans, F.floodSrc, F.written, F.jumps, F.jumped, F.windows, F.sink);
		fini(&F);
		free(t);
		free(rs);
	}
	return 0;
}
