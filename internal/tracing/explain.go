package tracing

import (
	"caravana/internal/auth"
	"caravana/internal/linkage"
)

// Explanation entries for what the principal may not see.
const (
	hiddenField = "other"
	hiddenLevel = "hidden"
)

// linkageField names the person field behind each linkage field, for the
// field permissions.
var linkageField = map[string]string{
	"given_names": auth.FieldGivenNames,
	"surnames":    auth.FieldSurname1,
	"birth_date":  auth.FieldBirthDate,
	"age":         auth.FieldAge,
	"sex":         auth.FieldSex,
	"origin_town": auth.FieldOriginTown,
	"nationality": auth.FieldNationality,
}

// explainFor keeps the per-field explanation of a match to the fields the
// principal may see. The others are summed into one "other fields" entry:
// the weights still add up to the total, but "origin_town exact" would
// tell a volunteer, who may not see origin towns, that the town they typed
// is the person's.
func explainFor(p auth.Principal, fields []linkage.Agreement) []linkage.Agreement {
	out := make([]linkage.Agreement, 0, len(fields))
	hidden, any := 0.0, false
	for _, f := range fields {
		name, known := linkageField[f.Field]
		if known && auth.CanSee(p.Role, name) {
			out = append(out, f)
			continue
		}
		hidden += f.Weight
		any = true
	}
	if any {
		out = append(out, linkage.Agreement{Field: hiddenField, Level: hiddenLevel, Weight: hidden})
	}
	return out
}
