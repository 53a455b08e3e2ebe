/* prefilter_impl.h - the prefilter's data, shared by its files (not by
 * the rest of the program).
 *
 * prefilter.c       analysing regexes, building the automaton, scanning
 * prefilter_saved.c saving a built automaton and taking one back
 */
#ifndef BACKBOT_PREFILTER_IMPL_H
#define BACKBOT_PREFILTER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "literals.h"

#define ALPHABET   40   /* see byte_class() */
#define MAX_STARTS 4096 /* start positions remembered per scan */
#define NO_START   UINT32_MAX

struct exact_ref {
	uint32_t regex;       /* an exact regex with this literal as a word */
	uint32_t set;         /* the regex's own set */
	bool open;            /* the word ends in \w* */
	unsigned char bounds; /* the regex's: bit 0 \b before, 1 after */
};

/* A literal while the automaton is built: the sets it belongs to, by
 * the boundaries they need around it (LIT_* flags), and of those the
 * sets some regex starts with. */
struct literal {
	uint32_t *sets[4];
	size_t count[4];
	uint32_t *start_sets[4];
	size_t start_count[4];
	struct exact_ref *exact;
	size_t exact_count;
	size_t len; /* of the literal, so a match knows where it starts */
};

/* The same, packed for the scan, which touches one of these for every
 * literal it finds: lists 0-3 are the sets by the boundaries they need,
 * 4-7 the start sets likewise, each the prefilter's refs[at[k]..at[k +
 * 1]) and in the order of prefilter.c's slot_flags, so that the lists an
 * occurrence satisfies are one range; its exact regexes are the
 * prefilter's exacts[exact_at..exact_at + exact_count).
 */
struct literal_refs {
	uint32_t at[9];
	uint32_t seen[4]; /* scan generation the sets were last marked in,
	                     by the occurrence's boundaries (start_ok * 2 +
	                     end_ok) */
	uint32_t len;
	uint32_t exact_at, exact_count;
};

/* What an exact regex found in the last scanned text. */
struct exact_hit {
	uint32_t gen; /* == generation when it matched */
	size_t start, end;
};

/* A distinct literal set.  Regexes share them (a word class makes the
 * same set everywhere it is used), so a scan marks sets, not regexes,
 * and a regex is possible when all its sets are marked.  An exact regex
 * has a set of its own, marked when a word of it is found. */
struct set {
	struct litset ls; /* until the automaton is built */
	size_t score;     /* set_shortest(): higher is rarer */
	bool starts;      /* regexes start with it: its positions are kept */
};

/* What a scan marks of a set: the generation it occurred in; and
 * whether the scan lists it when it does ('live'), which the sets that
 * are some regex's key (prefilter_key()) are, the ones candidates are
 * filed under: there are far fewer of them. */
struct set_mark {
	uint32_t stamp;
	uint32_t listed; /* 1 or 0 */
};

/* Where a set regexes start with occurred in the scan of generation
 * 'stamp': a list through the prefilter's 'start_next' from 'head', and
 * whether some positions were lost (too many). */
struct set_starts {
	uint32_t stamp;
	uint32_t head;
	bool lost;
};

/* What the prefilter knows about one registered regex. */
struct regex_info {
	const char *src;         /* until the automaton is built */
	uint64_t hash;           /* text_hash64() of the source */
	uint32_t sets[MAX_NEED]; /* all must occur */
	uint32_t start_set;      /* see has_start */
	/* A regex that is an alternation (a|b, \b(?:a|b)\b) also has
	 * entries for its alternatives, regex[branch_at..+branch_count):
	 * it can only match where one of them could. */
	uint32_t branch_at, branch_count;
	unsigned char set_count; /* 0: always run it */
	bool has_start;          /* every match starts with a literal of
	                            start_set */
	bool exact;              /* the automaton answers it alone */
	unsigned char bounds;    /* bit 0: \b before, bit 1: \b after */
};

/* What a scan reads of one state, side by side: as the separate arrays
 * the build works with (first, kids, fail, dict, out, row_of in struct
 * prefilter) they cost a scan a cache miss each.  The build packs them
 * into these when it is done and frees them; the saved form keeps these.
 */
struct pf_state {
	uint16_t row; /* 1 + its full row in 'rows', or 0 */
	uint8_t kids; /* children, from 'first' */
	uint32_t first;
	uint32_t fail;
	uint32_t dict; /* next state on the suffix chain with an output */
	int32_t out;   /* literal ending here, or -1 */
};

struct prefilter {
	/* Registered regexes: their literal ids, or always-run. */
	struct regex_info *regex; /* per registered regex */
	struct exact_hit *hits;   /* per regex */
	size_t regex_count, regex_cap;
	size_t registered; /* by prefilter_add(); entries from here on are
	                      alternatives (see struct regex_info) */
	char **branch_src; /* the alternatives' sources, until built */
	size_t branch_src_count;
	struct wordset *words; /* per registered regex, until built: the
	                          language of an exact one */
	/* Distinct sets, their index by content, and those the last scan
	 * marked. */
	struct set *set; /* until the automaton is built */
	size_t set_count, set_cap;
	size_t *set_score;             /* per set, once built: see struct set */
	struct set_mark *set_mark;     /* per set, apart from 'set' so that
	                                  marking stays in cache */
	struct set_starts *set_starts; /* per set, likewise */
	long *set_index;               /* open addressing; -1 for empty */
	size_t set_index_size;
	size_t *live; /* the listed sets the last scan marked */
	size_t live_count;
	/* Start positions found by the scan (MAX_STARTS), each set's in a
	 * list from its 'start_head'. */
	uint32_t *start_pos, *start_next;
	size_t start_count;
	/* Distinct literals and the automaton over them. */
	char **lits;
	struct literal *lit;
	struct literal_refs *lit_refs; /* per literal, once built */
	uint32_t *refs;                /* their set lists, one after another */
	struct exact_ref *exacts;      /* their exact regexes, likewise */
	size_t ref_count, exact_count;
	size_t lit_count, lit_cap;
	/* The trie, its states numbered breadth-first: the root's edges in
	 * a full row; every other state's children are neighbours, kids[s]
	 * of them from first[s], with their edge classes in cls[] (most
	 * states have one child).  'fail' is the Aho-Corasick failure link.
	 */
	uint32_t root[ALPHABET];
	uint32_t *first, *fail;
	unsigned char *kids;
	/* Busy states (the root, shallow states with many children) also
	 * get a full row of moves, failure links already followed, so a step
	 * from them is one lookup: row_of[s] is 1 + its row, or 0 (and 0 for
	 * every state from row_span on: busy states are shallow). */
	uint16_t *row_of;
	uint32_t *rows;
	size_t row_count, row_span;
	unsigned char *cls;
	int32_t *out;           /* literal ending here, or -1 */
	uint32_t *dict;         /* next state on the suffix chain with
	                           an output, 0 for none */
	struct pf_state *state; /* all of the above per state, once built
	                           (the arrays are then NULL) */
	size_t state_count;
	uint32_t generation;
	bool built;
	/* A saved automaton offered by prefilter_use_saved(), and whether
	 * prefilter_build() took it. */
	const unsigned char *saved;
	size_t saved_len;
	bool reused;
};

/* Make room for 'n' regex entries; -1 when out of memory. */
int prefilter_reserve_regexes(struct prefilter *pf, size_t n);

/* List the sets that are some registered regex's key (its sets[0]),
 * once the regexes' sets are final, or with 'all' every set. */
void prefilter_list_sets(struct prefilter *pf, bool all);

/* Drop the automaton and the per-scan arrays, keeping the regexes. */
void prefilter_free_automaton(struct prefilter *pf);

/* Allocate the per-scan arrays for the current counts.  -1 when out of
 * memory. */
int prefilter_alloc_scan(struct prefilter *pf);

/* Take the automaton offered by prefilter_use_saved() (prefilter_saved.c)
 * when it was built from exactly the regexes registered and passes every
 * check.  0 when it was taken (the prefilter is built), -1 otherwise
 * (nothing changed). */
int prefilter_take_saved(struct prefilter *pf);

#endif
