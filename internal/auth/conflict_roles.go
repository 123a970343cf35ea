package auth

// ConflictsRead lists what concurrency broke (two nodes editing the same
// field, one person registered on two nodes, a report closed differently,
// a username taken twice) with both sides, for review; ConflictResolve
// settles a field conflict by choosing the value.
const (
	ConflictsRead   Action = "conflicts.read"
	ConflictResolve Action = "conflicts.resolve"
)

func init() {
	actions[Coordinator][ConflictsRead] = true
	actions[Coordinator][ConflictResolve] = true
}
