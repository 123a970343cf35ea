package auth

// Sync actions (peers, enrolled nodes, revocation).
const (
	// SyncRead shows the sync status: peers, how far behind each side is,
	// errors, and the organisation's enrolled nodes. No PII.
	SyncRead Action = "sync.read"
	// NodeRevoke cuts a node off the organisation (a seized or lost device).
	NodeRevoke Action = "node.revoke"
)

// Who may see and steer sync. Revoking a node is irreversible and stops a
// whole site receiving data, so it is a coordinator's decision; the status
// shows node names and errors that only coordinators need.
var syncActions = map[Role][]Action{
	Coordinator: {SyncRead, NodeRevoke},
}

func init() {
	for r, as := range syncActions {
		for _, a := range as {
			actions[r][a] = true
		}
	}
}
