package web

// conflictRoutes: the conflicts page and its buttons are for coordinators.
// Resolving a field with no open conflict is refused (400); reviewing the
// fixture report is accepted; disabling names no account (400).
func conflictRoutes(form func(kv ...string) func(map[string]string) any) []route {
	return []route{
		{pattern: "GET /conflicts", path: "/conflicts", page: true, ok: 200, allow: coordOnly},
		{pattern: "POST /conflicts/resolve", path: "/conflicts/resolve", page: true, ok: 400, allow: coordOnly,
			body: form("person", "{person}", "field", "given_names", "value", "Ana")},
		{pattern: "POST /conflicts/review", path: "/conflicts/review", page: true, ok: 303, allow: coordOnly,
			body: form("report", "{report}")},
		{pattern: "POST /conflicts/disable-user", path: "/conflicts/disable-user", page: true, ok: 400, allow: coordOnly,
			body: form("user", "")},
	}
}
