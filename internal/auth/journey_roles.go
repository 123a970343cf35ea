package auth

// Journey actions (route, check-ins, missing list, incidents, hazards, map).
const (
	// CheckinRecord records a person as seen at a stage (card scan or search).
	CheckinRecord Action = "checkin.record"
	// MissingRead shows the missing list, with the names of the missing.
	MissingRead Action = "journey.missing"
	// MissingMark marks someone found, or as having left the caravan (or back).
	MissingMark Action = "journey.mark"
	// JourneyRead shows the route, headcounts, the map and the incident timeline:
	// aggregate figures and places, no names.
	JourneyRead Action = "journey.read"
	// IncidentWrite records incidents and hazards, and clears hazards.
	IncidentWrite Action = "incident.write"
	// RouteWrite replaces the route (import).
	RouteWrite Action = "route.write"
)

// Who may do what on the journey. Volunteers count people at crossings and
// act on the missing list; every staff member sees the figures and the map
// and may report an incident or a hazard they witness (a medic a medical
// emergency, a lawyer a detention); only a coordinator changes the route,
// because every node's checkpoints hang on it.
var journeyActions = map[Role][]Action{
	Coordinator: {CheckinRecord, MissingRead, MissingMark, JourneyRead, IncidentWrite, RouteWrite},
	Volunteer:   {CheckinRecord, MissingRead, MissingMark, JourneyRead, IncidentWrite},
	Legal:       {JourneyRead, IncidentWrite},
	Medic:       {JourneyRead, IncidentWrite},
}

func init() {
	for r, as := range journeyActions {
		for _, a := range as {
			actions[r][a] = true
		}
	}
}
