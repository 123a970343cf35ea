// Package linkage finds records that describe the same person: a missing-person report against
// the registry, two registrations of one person, or the rows of two partner lists. It is
// Fellegi-Sunter probabilistic record linkage, fitted without labels, written for the names of
// Central America.
//
// # Comparing
//
// Every field is compared by its Kind into a graded agreement level (compare.go), best first:
//
//	name      exact (in any order: "swapped"), nickname, phonetic, similar (a typo), partial (one
//	          name inside the other: "José" and "José Luis", one surname of two), some (a word
//	          agrees, another clashes; shown as "partial"), disagree
//	date      exact, swapped (day and month), close (within a week, or one digit of the day),
//	          similar (a year off, or same year and month), partial (same year), disagree
//	age       exact, close (2 years), similar (5 years), disagree
//	place     exact, phonetic, similar, partial (a word of it), disagree
//	text      exact, similar (every word alike), partial (half the words), disagree
//	code, number   exact, similar (one edit or transposition), disagree
//	category  exact, disagree
//
// An empty value is "missing" and weighs nothing. Birth date and age are one piece of evidence:
// when both records have a birth date the age is not compared; otherwise ages are, a date
// standing in through the age it gives on the reference date (Options.AsOf, Index.SetAsOf).
//
// Names are treated the way these names behave (normalize.go, phonetic.go, nickname.go):
// accents and case folded, particles (de, del, de la, y) dropped, surnames compared as a set
// (swapped, one missing, joined with "y" or a hyphen), compound given names against one part,
// nicknames and hypocoristics (Chepe, Pancho, Lupe, Chema for José María) mapped to canonical
// names from the embedded data/nicknames.tsv, and a phonetic key that forgives b/v, ll/y,
// s/z/c, silent h, j/g, qu/k and x for j. Each record's words are interned and prepared once
// (dict.go), so comparing two records costs integer compares and a cached word-pair class.
//
// # Blocking
//
// Only pairs that share a blocking key are compared (blocking.go). The rules are a union, so a
// pair one rule misses is found by another: every two name fields (given name word by surname
// word), the words of one name field in pairs (both surnames), name word by birth year, name
// word by place, the full birth date, and every code field alone; keys use the phonetic key of
// each word's canonical names. A query widens its keys (birth year ±1 from a date, ±4 from an
// age; day and month swapped). Blocks too large to say anything are skipped; the tests measure
// what that costs (pairs completeness).
//
// # Fitting
//
// u comes from a large random sample of pairs, almost all non-matches. m comes from EM on the
// blocked pairs, once per blocking rule, leaving out the fields the rule forces to agree and
// fitting the rule's own u alongside, so that the agreement a rule induces among non-matches
// (same given name, same sex) is not taken for evidence; rules whose match class is implausible
// (more matches than records, or a field disagreeing on most of them) are dropped, and the rest
// are averaged and shrunk towards a prior. The prior probability of a match (lambda) is then
// fitted over all pairs. No labels are used anywhere. See em.go.
//
// Two corrections keep the independence assumption from double counting. Agreeing on a rare
// name weighs more than agreeing on García or María (a bounded term-frequency adjustment,
// tf.go). And a field may be conditioned on one earlier field when random pairs show the two
// agreeing together far beyond chance: sex given the given name, country given the town,
// the town given the surnames where families travel together.
//
// # Using it
//
// Link and Dedup fit a model and return the pairs at or above a threshold. An Index holds the
// registry in memory for missing-person queries and duplicate search; its Query probability is
// shared among the candidates that fit a report, on even odds that the person is registered
// at all.
package linkage
