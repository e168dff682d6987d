/* mixfloor: the floor for the engine's work per SYN on BenchmarkMix's
 * streams (pkg/engine: the normal mix, the hostile one and the hostile one
 * without its clock jumps, "capped"), written to be as fast as this
 * machine allows rather than to match the engine record for record. It does, per SYN, what the engine must do to write what it writes:
 *
 * - the clock: frames more than a week ahead are held until 64 in a row
 *   confirm the jump, else analysed at the clock; earlier frames are
 *   analysed at their own time; windows of 5 minutes close as the clock
 *   passes them;
 * - the window's distinct targets and active sources, a new source's /24 or
 *   /48 new or not;
 * - the source: seen in the last 24 h or new; a new source not in the table
 *   looked for in the memory of forgotten sources (7 days of fingerprints);
 *   sources kept within a cap of 100,000 (at the cap a new source evicts an
 *   expired or the longest silent one-SYN source near its place, which goes
 *   to the memory, and is offered to the top list);
 * - from a source's second pair on (the engine's promoted reach, within the
 *   engine's bound of CAP/8+1024 entries): its hosts in the scan interval
 *   counted exactly to 25 (a scanner record), its destinations in the
 *   episode exactly to 16 then in a HyperLogLog, its ports, and its
 *   activity (active periods and sleeps, sleepers, their histograms);
 * - a new source's target counted per second over 10 seconds: 50 new
 *   sources at one target in the span is a flood; new sources wait 10 s in
 *   a delay line and are then written (their fields summed into a checksum)
 *   or summed into the flood's count.
 *
 * How: set-associative tables of one or two cache lines a bucket, compared
 * with AVX-512 (this machine's; the floor is for it), timestamps instead of
 * generations (nothing to rotate or drain), a SYN's hashes computed once and
 * every line it needs prefetched eight SYNs ahead, the memory's insertions
 * pended eight with their line prefetched, tables in huge pages. It leaves
 * out the heavy counts, per-host port sets (the streams have one port) and
 * the records' formatting (the engine's benchmark writes none either).
 *
 * Switches for measuring what each part costs (-D at build): NOPF (no
 * prefetching), NOHINT (no prefetch of a source's reach entry), NORELPF (none
 * of the delay line's flood slot), NOHUGE (no huge pages), NOSEE (no
 * activity), NOHOSTS (no scan-interval hosts), NODST (no episode reach),
 * WIDEMAX=N (the engine's bound on HyperLogLogs), AHEAD=N (prefetch distance).
 *
 * Usage: mixfloor ROUNDS FILE... (records of BenchmarkMixFloor's dump).
 * Prints, per file, the median ns per SYN over the rounds and the counts.
 * Built (-O2 -march=native) and run by
 * `go test ./pkg/engine -run '^$' -bench MixFloor`; scripts/bench-mix.sh
 * puts it beside the engine. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <immintrin.h>

#if !defined(__AVX512F__) || !defined(__AVX512VL__)
#error "mixfloor is the floor for an AVX-512 machine (F and VL): build it with -march=native there"
#endif

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

/* A SYN's hashes, computed once when it is prefetched. */
struct hs { uint64_t src, pfx, pkey, dst; };
static inline void hashes(const struct rec *r, struct hs *x) {
	x->src = hash_src(r), x->pfx = hash_pfx(r, &x->pkey), x->dst = hash_dst(r);
}

/* Sources: times are seconds since the run's base + 1 (0: a free entry). */
/* lastms: the last SYN in ms (mod 2^32, for activity gaps); slab: 1 + its
 * reach entry once it sent to a second pair; fdst: its first destination. */
struct e4 { uint32_t addr, last, first, syns, lastms, slab, fdst, pad; };          /* 32 B */
struct e6 { uint8_t addr[16]; uint32_t last, first, syns, lastms, slab, fdst, pad[2]; uint64_t pad2[2]; }; /* 64 B */
/* A source's reach and activity, from its second pair on (the engine's
 * promoted reach): the interval's hosts exactly (to 25), the episode's
 * destinations exactly to 16 then a 1,024-register HyperLogLog, its port,
 * and its activity (active periods, sleeps). */
struct rs {
	uint32_t wake; uint16_t lgap, ameta;  /* activity */
	uint32_t epoch;                        /* the hosts' scan interval */
	uint8_t nH, nD, nP, rep;
	uint16_t lastPort, pad;
	int32_t zeros;
	double inv;
	uint32_t hosts[8];                     /* line 0 ends */
	uint32_t hostsMore[16];                /* line 1 */
	uint32_t exactD[16];                   /* line 2 */
	uint16_t exactP[16]; uint8_t pad3[32]; /* line 3 */
	uint8_t hll[512];                      /* lines 4 to 11 */
} __attribute__((aligned(64)));
#define SLABMAX (CAP / 8 + 1024)
#define HINTS 8192
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
struct fe { uint32_t tag, sec; uint16_t cnt[10]; uint16_t tot, flooding; };
struct fb { struct fe e[2]; } __attribute__((aligned(64)));
/* The window's targets: open addressing, a slot current when its window
 * number is the window's. */
struct te { uint64_t e[8]; } __attribute__((aligned(64)));
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
	uint32_t winStartSec, actStartSec;
	struct rs *slab; uint32_t *freeList; uint32_t nfree, nslab;
	uint32_t *hint;
	struct act { uint64_t sleeps, sleepMs, sleepBins[168], actives, activeMs, activeBins[168], sleepers, runSleepers; } act;
	uint64_t active, actSources, reachFull, hllAdds; uint32_t nwide;
	uint32_t top[10]; int ntop; uint32_t topMin;
	uint64_t live, plive;
	struct rec heldJump[CONFIRM]; int nheld;
	/* Insertions into the memory wait PEND more, their line prefetched. */
	uint64_t pend[PEND]; int64_t pendTs[PEND]; unsigned npend;
	uint64_t pendKey[PEND]; /* bucket << 32 | fingerprint of each, for remembered */
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
	uint64_t nm = pow2((uint64_t)CAP * REMEMBER_LOOKBACKS * 5 / 4 / 16), nf = 1 << 13, nt = 1 << 15, nl = 1 << 20;
	F->s4 = zalloc(n4 * sizeof *F->s4); F->m4 = n4 - 1;
	F->s6 = zalloc(n6 * sizeof *F->s6); F->m6 = n6 - 1;
	F->p = zalloc(np * sizeof *F->p); F->mp = np - 1;
	F->m = zalloc(nm * sizeof *F->m); F->mm = nm - 1;
	F->f = zalloc(nf * sizeof *F->f); F->mf = nf - 1;
	F->t = zalloc(nt * sizeof *F->t); F->mt = nt - 1;
	F->line = zalloc(nl * sizeof *F->line); F->lmask = nl - 1;
	F->slab = zalloc(SLABMAX * sizeof *F->slab), F->freeList = zalloc(SLABMAX * 4), F->hint = zalloc(HINTS * 4);
}
static void fini(struct floor *F) {
	zfree(F->s4, (F->m4 + 1) * sizeof *F->s4), zfree(F->s6, (F->m6 + 1) * sizeof *F->s6);
	zfree(F->p, (F->mp + 1) * sizeof *F->p), zfree(F->m, (F->mm + 1) * sizeof *F->m);
	zfree(F->f, (F->mf + 1) * sizeof *F->f), zfree(F->t, (F->mt + 1) * sizeof *F->t);
	zfree(F->line, (F->lmask + 1) * sizeof *F->line);
	zfree(F->slab, SLABMAX * sizeof *F->slab), zfree(F->freeList, SLABMAX * 4), zfree(F->hint, HINTS * 4);
}

static inline uint32_t secOf(struct floor *F, int64_t ts) {
	int64_t s = (ts - F->base) / NS + 1;
	return s < 1 ? 1 : (uint32_t)s;
}
static inline uint32_t lbOf(struct floor *F, int64_t ts) { return (uint32_t)((ts - F->base) / LOOKBACK) & 0xff; }

/* The memory of forgotten sources. */
static inline int remembered(struct floor *F, uint64_t h, int64_t ts) {
	uint64_t bk = (h >> 40) & F->mm;
	struct mb *b = &F->m[bk];
	uint32_t fp = (uint32_t)h & 0xffffff00, now = lbOf(F, ts);
	unsigned pm = _mm512_cmpeq_epi64_mask(_mm512_loadu_si512(F->pendKey), _mm512_set1_epi64(bk << 32 | fp));
	__m512i v = _mm512_load_si512(b);
	unsigned m = _mm512_cmpeq_epi32_mask(_mm512_and_si512(v, _mm512_set1_epi32(0xffffff00)), _mm512_set1_epi32(fp));
	unsigned nz = _mm512_test_epi32_mask(v, v);
	__m512i age = _mm512_and_si512(_mm512_sub_epi32(_mm512_set1_epi32(now), v), _mm512_set1_epi32(0xff));
	unsigned young = _mm512_cmplt_epu32_mask(age, _mm512_set1_epi32(REMEMBER_LOOKBACKS));
	return ((pm & (F->npend >= PEND ? 0xff : (1u << F->npend) - 1)) | (m & nz & young)) != 0;
}
static inline void memStore(struct floor *F, uint64_t h, int64_t ts) {
	struct mb *b = &F->m[(h >> 40) & F->mm];
	uint32_t now = lbOf(F, ts), e = ((uint32_t)h & 0xffffff00) | now;
	__m512i v = _mm512_load_si512(b);
	__m512i age = _mm512_and_si512(_mm512_sub_epi32(_mm512_set1_epi32(now), v), _mm512_set1_epi32(0xff));
	age = _mm512_mask_mov_epi32(age, _mm512_testn_epi32_mask(v, v), _mm512_set1_epi32(256));
	uint32_t mx = _mm512_reduce_max_epu32(age);
	unsigned m = _mm512_cmpeq_epi32_mask(age, _mm512_set1_epi32(mx));
	b->e[__builtin_ctz(m)] = e;
}

/* remember puts a forgotten source in the memory PEND insertions later; a
 * waiting one counts as remembered (remembered looks in the queue). */
static inline void remember(struct floor *F, uint64_t h, int64_t ts) {
	unsigned i = F->npend++ % PEND;
	if (F->npend > PEND) memStore(F, F->pend[i], F->pendTs[i]);
	F->pend[i] = h, F->pendTs[i] = ts;
	F->pendKey[i] = ((h >> 40) & F->mm) << 32 | ((uint32_t)h & 0xffffff00);
	__builtin_prefetch(&F->m[(h >> 40) & F->mm], 1);
}

/* A prefix's first SYN in the lookback. */
static inline int prefixNew(struct floor *F, uint64_t h, uint64_t key, uint32_t now) {
	struct pb *b = &F->p[(h >> 20) & F->mp];
	__m512i v = _mm512_load_si512(b);
	unsigned m = _mm512_cmpeq_epi64_mask(v, _mm512_set1_epi64(key)) & 0x55;
	if (m) {
		struct pe *e = &b->e[__builtin_ctz(m) >> 1];
		int isNew = now > e->last && now - e->last > LOOKBACK / NS; /* (an earlier SYN: not new) */
		if (now > e->last) e->last = now;
		return isNew;
	}
	/* the oldest (a free entry is 0): lasts are the low halves of the odd lanes */
	__m512i lasts = _mm512_and_si512(v, _mm512_set1_epi64(0xffffffff));
	lasts = _mm512_mask_mov_epi64(lasts, 0x55, _mm512_set1_epi64(-1));
	uint64_t oldest = _mm512_reduce_min_epu64(lasts);
	int victim = __builtin_ctz(_mm512_cmpeq_epi64_mask(lasts, _mm512_set1_epi64(oldest))) >> 1;
	if (oldest == 0 || (now > (uint32_t)oldest && now - (uint32_t)oldest > LOOKBACK / NS) || F->plive < CAP) {
		F->plive += oldest == 0;
		b->e[victim] = (struct pe){key, now, 0};
	}
	return 1;
}

static inline void target(struct floor *F, uint64_t h) {
	uint64_t want = (uint64_t)(uint32_t)(F->win + 1) << 32 | (uint32_t)(h >> 32);
	for (uint64_t i = h;; i++) {
		struct te *b = &F->t[i & F->mt];
		__m512i v = _mm512_load_si512(b);
		unsigned m = _mm512_cmpeq_epi64_mask(v, _mm512_set1_epi64(want));
		unsigned cur = _mm512_cmpeq_epi64_mask(_mm512_srli_epi64(v, 32), _mm512_set1_epi64(want >> 32));
		unsigned sel = m ? m : (~cur & 0xff);
		if (__builtin_expect(!sel, 0)) continue; /* full of this window's: the next bucket */
		b->e[__builtin_ctz(sel)] = want;
		F->targets += !m;
		return;
	}
}

/* A new source at its target: counted, and a flood when 50 came in 10 s. */
static inline int floodCount(struct floor *F, const struct rec *r, uint64_t h, uint32_t *tagOut) {
	uint32_t tag = (uint32_t)(h >> 32) | 1, sec = secOf(F, r->ts);
	struct fb *b = &F->f[h & F->mf];
	struct fe *e = b->e[0].tag == tag ? &b->e[0] : b->e[1].tag == tag ? &b->e[1] : NULL;
	if (!e) {
		e = b->e[0].sec <= b->e[1].sec ? &b->e[0] : &b->e[1];
		memset(e, 0, sizeof *e);
		e->tag = tag, e->sec = sec;
	}
	if (sec > e->sec) {
		if (sec - e->sec >= 10) memset(e->cnt, 0, sizeof e->cnt), e->tot = 0;
		else
			for (uint32_t s = e->sec + 1; s <= sec; s++) e->tot -= e->cnt[s % 10], e->cnt[s % 10] = 0;
		e->sec = sec;
	}
	e->cnt[sec % 10]++;
	unsigned n = ++e->tot;
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

static inline void newSource(struct floor *F, const struct rec *r, uint64_t hd, int returning) {
	uint32_t tag;
	floodCount(F, r, hd, &tag);
	release(F, r->ts);
	struct held *x = &F->line[F->lhead++ & F->lmask];
	x->ts = r->ts, x->target = tag, x->dport = r->dport, x->v6 = r->v6, x->returning = (uint8_t)returning;
	memcpy(x->src, r->src, 16), memcpy(x->dst, r->dst, 16);
	if (F->lhead - F->ltail > F->lmask) F->ltail++; /* never here with these streams */
}

/* Activity (sources/activity.go): a promoted source's 90th-percentile gap
 * on the log scale, and its sleeps. */
#define LGONE 1024
#define GAPSFULL 31
static int32_t sleepBar[GAPSFULL + 1], gapUp[GAPSFULL + 1], gapDown[GAPSFULL + 1], lgInit;
static inline int32_t log2ms(uint64_t ms) {
	if (ms <= 1) return 0;
	int e = 63 - __builtin_clzll(ms);
	uint64_t frac = e >= 10 ? ms >> (e - 10) & (LGONE - 1) : ms << (10 - e) & (LGONE - 1);
	return e * LGONE + (int32_t)frac;
}
static void actInit(void) {
	for (int n = 1; n <= GAPSFULL; n++) {
		sleepBar[n] = (int32_t)lround((log2(3.5) + 3 / sqrt(n)) * LGONE);
		int32_t st = 4 * LGONE / (n + 1) > LGONE / 8 ? 4 * LGONE / (n + 1) : LGONE / 8;
		gapUp[n] = st * 9 / 10, gapDown[n] = st / 10;
	}
	lgInit = log2ms(16000);
}
static void periodAdd(uint64_t *n, uint64_t *sum, uint64_t *bins, uint64_t ms) {
	(*n)++, *sum += ms;
	int b = 0;
	if (ms >= 1000) { b = (int)(log2((double)ms / 1000) * 8); if (b > 167) b = 167; }
	bins[b]++;
}
static inline void see(struct floor *F, struct rs *a, uint32_t gapMs, uint32_t nowSec) {
	int32_t lg = log2ms(gapMs);
	unsigned n = a->ameta & 31;
	int32_t est = a->lgap;
	if (gapMs > 120000 && n > 0 && lg > est + sleepBar[n]) { /* a sleep */
		periodAdd(&F->act.sleeps, &F->act.sleepMs, F->act.sleepBins, gapMs);
		if (a->ameta & 32) periodAdd(&F->act.actives, &F->act.activeMs, F->act.activeBins, (uint64_t)(nowSec - a->wake) * 1000);
		if (!(a->ameta & 32) || a->wake < F->actStartSec) F->act.sleepers++;
		if (!(a->ameta & 64)) F->act.runSleepers++;
		a->ameta |= 32 | 64, a->wake = nowSec;
		return;
	}
	if (n == GAPSFULL) {
		if (lg < est - 3 * LGONE) return;
	} else if (n == 0) {
		if (gapMs > 480000 && !(a->ameta & 128)) { a->ameta |= 128; return; }
		int32_t v = lg + LGONE > lgInit ? lg + LGONE : lgInit;
		a->lgap = v > 65535 ? 65535 : v, a->ameta++;
		return;
	} else a->ameta++;
	int32_t v = est + (lg > est ? gapUp[n] : -gapDown[n]);
	a->lgap = v < 0 ? 0 : v > 65535 ? 65535 : v;
}
static inline int hllAdd(struct rs *w, uint32_t x) {
	uint32_t j = x >> 22;
	uint8_t r = __builtin_clz(x << 10 | 1u << 9) + 1; if (r > 15) r = 15;
	unsigned sh = (j & 1) * 4;
	uint8_t old = w->hll[j >> 1] >> sh & 15;
	if (r <= old) return 0;
	w->zeros -= old == 0;
	static const double p2n[16] = {1, 0x1p-1, 0x1p-2, 0x1p-3, 0x1p-4, 0x1p-5, 0x1p-6, 0x1p-7, 0x1p-8, 0x1p-9, 0x1p-10, 0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15};
	w->inv += p2n[r] - p2n[old];
	w->hll[j >> 1] = (w->hll[j >> 1] & ~(15 << sh)) | r << sh;
	return 1;
}
static inline void addDst(struct floor *F, struct rs *w, uint32_t dh) {
	if (w->nD > 16) { F->hllAdds++; hllAdd(w, dh); return; }
	__m512i v = _mm512_load_si512(w->exactD);
	if (_mm512_cmpeq_epi32_mask(v, _mm512_set1_epi32(dh)) & ((1u << w->nD) - 1)) return;
	if (w->nD < 16) { w->exactD[w->nD++] = dh; return; }
#ifdef WIDEMAX
	if (F->nwide >= WIDEMAX) { F->reachFull++; return; } /* the engine's bound: its reach reads low */
	F->nwide++;
#endif
	memset(w->hll, 0, 512), w->zeros = 1024, w->inv = 1024;
	for (int i = 0; i < 16; i++) hllAdd(w, w->exactD[i]);
	hllAdd(w, dh);
	w->nD = 17;
}
static inline int hasHost(struct rs *w, uint32_t dh) {
	unsigned n = w->nH;
	unsigned m = _mm256_cmpeq_epi32_mask(_mm256_load_si256((const __m256i *)w->hosts), _mm256_set1_epi32(dh)) & ((1u << (n < 8 ? n : 8)) - 1);
	if (m || n <= 8) return m != 0;
	return (_mm512_cmpeq_epi32_mask(_mm512_load_si512(w->hostsMore), _mm512_set1_epi32(dh)) & ((1u << (n - 8)) - 1)) != 0;
}
static inline void offerTop(struct floor *F, uint32_t syns) {
	if (syns <= F->topMin && F->ntop == 10) return;
	int i = F->ntop < 10 ? F->ntop++ : 9;
	while (i > 0 && F->top[i - 1] < syns) F->top[i] = F->top[i - 1], i--;
	F->top[i] = syns;
	F->topMin = F->top[F->ntop - 1];
}
static inline void freeSlab(struct floor *F, uint32_t slab) {
	if (slab) {
#ifdef WIDEMAX
		F->nwide -= F->slab[slab - 1].nD > 16;
#endif
		F->freeList[F->nfree++] = slab - 1;
	}
}
static inline uint32_t allocSlab(struct floor *F) {
	if (F->nfree) return F->freeList[--F->nfree] + 1;
	if (F->nslab < SLABMAX) return ++F->nslab;
	F->reachFull++;
	return 0;
}
/* A known source's SYN in its reach and activity; reports a scan. */
static inline void reach(struct floor *F, uint32_t *slab, uint32_t fdst, uint32_t lastSec, uint32_t gapMs, uint32_t first,
                         uint32_t epoch, uint32_t dh, uint16_t port, uint32_t nowSec, uint64_t h) {
	int fresh = 0;
	if (!*slab) {
		if (dh == fdst) return; /* the same pair again */
		if (!(*slab = allocSlab(F))) return;
		struct rs *w = &F->slab[*slab - 1];
		w->wake = first, w->lgap = 0, w->ameta = 0, w->rep = 0;
		w->epoch = epoch;
		w->nH = (lastSec - 1) * (uint64_t)NS / SCANINT == epoch ? (w->hosts[0] = fdst, 1) : 0;
		w->nD = 1, w->exactD[0] = fdst, w->nP = 1, w->lastPort = port;
		fresh = 1;
	}
	struct rs *w = &F->slab[*slab - 1];
	F->hint[h & (HINTS - 1)] = (uint32_t)(h >> 48) << 16 | *slab;
#ifndef NOSEE
	if (!fresh) see(F, w, gapMs, nowSec);
#endif
#ifndef NOHOSTS
	if (w->epoch != epoch) w->epoch = epoch, w->nH = 0;
	if (!(w->rep & 1) && w->nH < SCANHOSTS && !hasHost(w, dh)) {
		if (w->nH < 8) w->hosts[w->nH] = dh;
		else w->hostsMore[w->nH - 8] = dh;
		if (++w->nH == SCANHOSTS) w->rep |= 1, F->scans++, F->sink += w->nD;
	}
#endif
#ifndef NODST
	addDst(F, w, dh);
#endif
	if (port != w->lastPort) w->lastPort = port, w->nP++; /* (ports: the streams have one) */
}


#define NEWENTRY(e, dh)                                                                     \
	(e->last = e->first = now, e->syns = 1, e->lastms = tsms, e->slab = 0, e->fdst = dh)
#define SOURCE(E, B, W, MATCH, SETKEY, VHASH)                                                \
	do {                                                                                 \
		uint32_t epoch = (uint32_t)((r->ts - F->base) / SCANINT);                       \
		uint32_t tsms = (uint32_t)((r->ts - F->base) / 1000000), dh = (uint32_t)(HD >> 32); \
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
					F->active += e->last < F->winStartSec;                                \
					F->actSources += e->last < F->actStartSec;                            \
					reach(F, &e->slab, e->fdst, e->last, tsms - e->lastms, e->first, epoch, dh, r->dport, now, h); \
					if (now > e->last) e->last = now, e->lastms = tsms;                   \
					e->syns++;                                                            \
					return;                                                               \
				}                                                                         \
				/* returning while the memory of forgotten sources spans its silence (the  \
				 * engine lets a gap's sources go, and the memory's with a longer one) */  \
				F->returning += now - e->last < REMEMBER_LOOKBACKS * (LOOKBACK / NS);      \
				F->newSrc++, F->active++;                                                 \
				offerTop(F, e->syns), freeSlab(F, e->slab);                               \
				NEWENTRY(e, dh);                                                          \
				newSource(F, r, HD, 1);                                                   \
				return;                                                                   \
			}                                                                             \
			if (old) {                                                                    \
				if (!stale) stale = e;                                                    \
			} else if (e->syns == 1 && (!victim || e->last < victim->last))               \
				victim = e;                                                               \
		}                                                                                 \
		F->newSrc++, F->active++;                                                         \
		int ret = remembered(F, h, r->ts);                                                \
		if (ret) F->recalled++, F->returning++;                                           \
		E *e = NULL;                                                                      \
		if (stale) e = stale; /* expired: to the memory */                               \
		else if (free_ && F->live < CAP) e = free_, F->live++;                           \
		else if (victim) e = victim, F->evicted++;                                        \
		if (e) {                                                                          \
			if (e->last) { /* to the memory while it would still span its silence */     \
				if (now - e->last < REMEMBER_LOOKBACKS * (LOOKBACK / NS))                 \
					remember(F, VHASH, r->ts);                                            \
				offerTop(F, e->syns), freeSlab(F, e->slab);                               \
			}                                                                             \
			SETKEY;                                                                       \
			NEWENTRY(e, dh);                                                              \
		} else {                                                                          \
			F->untracked++;                                                               \
			remember(F, h, r->ts);                                                        \
		}                                                                                 \
		newSource(F, r, HD, ret);                                                         \
	} while (0)

static void source4(struct floor *F, const struct rec *r, uint64_t h, uint64_t HD, uint32_t now) {
	struct b4 *b = &F->s4[(h >> 20) & F->m4];
	uint32_t a = lo32(r->src);
	SOURCE(struct e4, b, W4, e->addr == a, e->addr = a, mix64(e->addr | 4ULL << 32));
}
static void source6(struct floor *F, const struct rec *r, uint64_t h, uint64_t HD, uint32_t now) {
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
		F->winStartSec = secOf(F, F->winEnd - WINDOW);
		F->actStartSec = secOf(F, F->winEnd - WINDOW - (F->winEnd - WINDOW - F->base) % (3600 * NS));
		if (F->winEnd + 10 * LOOKBACK < ts) /* a believed jump: skip to its window */
			F->winEnd = ts - (ts - F->base) % WINDOW + WINDOW, F->win += 1 << 20,
			F->winStartSec = secOf(F, F->winEnd - WINDOW), F->actStartSec = F->winStartSec;
	}
}

static void syn(struct floor *F, const struct rec *r, const struct hs *x) {
	struct hs own;
	if (!x) hashes(r, &own), x = &own;
	F->syns++;
	uint32_t now = secOf(F, r->ts);
	target(F, x->dst);
	if (prefixNew(F, x->pfx, x->pkey, now)) F->newPfx++;
	if (r->v6) source6(F, r, x->src, x->dst, now);
	else source4(F, r, x->src, x->dst, now);
}

static void frame(struct floor *F, const struct rec *r, const struct hs *x);

static void accept(struct floor *F, const struct rec *r, const struct hs *x) {
	if (r->ts > F->clock) {
		F->clock = r->ts;
		closeWindows(F, r->ts);
	}
	if (r->flags == 2) syn(F, r, x);
}

static void frame(struct floor *F, const struct rec *r, const struct hs *x) {
	if (F->clock && r->ts > F->clock + MAXGAP) {
		F->heldJump[F->nheld++] = *r;
		if (F->nheld == CONFIRM) {
			F->jumps++;
			for (int i = 0; i < CONFIRM; i++) accept(F, &F->heldJump[i], NULL);
			F->nheld = 0;
		}
		return;
	}
	for (int i = 0; i < F->nheld; i++) { /* not believed: analysed at the clock */
		F->heldJump[i].ts = F->clock;
		accept(F, &F->heldJump[i], NULL);
	}
	F->jumped += F->nheld, F->nheld = 0;
	accept(F, r, x);
}

static inline __attribute__((always_inline)) void prefetch(struct floor *F, const struct rec *r, struct hs *x) {
	hashes(r, x);
#ifdef NOPF
	return;
#endif
	uint64_t h = x->src, hp = x->pfx, hd = x->dst;
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
	__builtin_prefetch(&F->t[hd & F->mt], 1);
#ifndef NOHINT
	uint32_t hi = F->hint[h & (HINTS - 1)];
	if (hi >> 16 == (uint32_t)(h >> 48) && (hi & 0xffff)) {
		const struct rs *w = &F->slab[(hi & 0xffff) - 1];
		__builtin_prefetch(w, 1), __builtin_prefetch(w->exactD, 1);
		__builtin_prefetch(&w->hll[(uint32_t)(hd >> 32) >> 23], 1);
	}
#endif
#ifndef NORELPF
	if (F->lhead - F->ltail > 16) __builtin_prefetch(&F->f[0].e[0] + F->line[(F->ltail + 16) & F->lmask].target, 0);
#endif
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
	actInit();
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
			struct hs ring[AHEAD + 1];
			for (size_t i = 0; i < n && i < AHEAD; i++)
				if (rs[i].flags == 2) prefetch(&F, &rs[i], &ring[i % (AHEAD + 1)]);
			for (size_t i = 0; i < n; i++) {
				if (i + AHEAD < n && rs[i + AHEAD].flags == 2) prefetch(&F, &rs[i + AHEAD], &ring[(i + AHEAD) % (AHEAD + 1)]);
				frame(&F, &rs[i], rs[i].flags == 2 ? &ring[i % (AHEAD + 1)] : NULL);
			}
			release(&F, INT64_MAX);
			t[k] = now_ns() - t0;
			if (k + 1 < rounds) fini(&F);
		}
		qsort(t, rounds, sizeof *t, cmpd);
		printf("%s: %.1f ns/syn, syns %lu new %lu returning %lu recalled %lu evicted %lu untracked %lu new_prefixes %lu scans %lu flood_sources %lu written %lu jumps %lu jumped %lu windows %lu sink %lx | active %lu act_sources %lu sleeps %lu sleepers %lu reach_full %lu hll_adds %lu top %u\n",
		       argv[a], t[rounds / 2] / (double)F.syns, F.syns, F.newSrc, F.returning, F.recalled, F.evicted, F.untracked,
		       F.newPfx, F.scans, F.floodSrc, F.written, F.jumps, F.jumped, F.windows, F.sink, F.active, F.actSources, F.act.sleeps, F.act.sleepers, F.reachFull, F.hllAdds, F.top[0]);
		fini(&F);
		free(t);
		free(rs);
	}
	return 0;
}
