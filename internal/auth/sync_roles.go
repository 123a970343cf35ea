package auth

// Sync actions (peers, enrolled nodes, revocation).
const (
	// SyncRead shows the sync status: peers, how far behind each side is,
	// errors, and the organisation's enrolled nodes. No PII.
	SyncRead Action = "sync.read"
	// NodeRevoke cuts a node off the organisation (a seized or lost device).
	NodeRevoke Action = "node.revoke"
	// SyncHold decides on events held for review because they are stamped
	// far in the future (S14): apply them now, or drop them.
	SyncHold Action = "sync.hold"
)

// Who may see and steer sync. Revoking a node is irreversible and stops a
// whole site receiving data, so it is a coordinator's decision; so is
// accepting events whose clock is wrong, which win every last-writer-wins
// field they touch. The status shows node names and errors that only
// coordinators need.
var syncActions = map[Role][]Action{
	Coordinator: {SyncRead, NodeRevoke, SyncHold},
}

func init() {
	for r, as := range syncActions {
		for _, a := range as {
			actions[r][a] = true
		}
	}
}
