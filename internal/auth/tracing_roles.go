package auth

// Tracing actions (missing-person reports, matches, duplicates).
const (
	// TraceReport records a missing-person report.
	TraceReport Action = "trace.report"
	// TraceRead shows reports and their ranked candidates, with names.
	TraceRead Action = "trace.read"
	// TraceDecide confirms or rejects a candidate, or withdraws a report.
	TraceDecide Action = "trace.decide"
	// DuplicatesRead lists likely duplicate registrations, with names.
	DuplicatesRead Action = "duplicates.read"
	// PersonMerge merges a duplicate registration into another person.
	PersonMerge Action = "person.merge"
)

// Who may trace. Any staff member may take down a report from a relative
// who asks for help (a medic or a lawyer is often the first person told);
// the tracing desk (volunteers) and coordinators read reports and decide on
// matches, and legal-aid staff read them to help families; merging two
// registrations hides one from every list, so only a coordinator merges.
var tracingActions = map[Role][]Action{
	Coordinator: {TraceReport, TraceRead, TraceDecide, DuplicatesRead, PersonMerge},
	Volunteer:   {TraceReport, TraceRead, TraceDecide, DuplicatesRead},
	Legal:       {TraceReport, TraceRead},
	Medic:       {TraceReport},
}

func init() {
	for r, as := range tracingActions {
		for _, a := range as {
			actions[r][a] = true
		}
	}
}
