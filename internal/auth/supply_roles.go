package auth

// Supply actions (items, donations in, stock, distributions).
const (
	// SupplyRead shows the item catalogue, stock per place and a
	// household's distribution history: ids and figures, no names.
	SupplyRead Action = "supply.read"
	// SupplyGive records a distribution to a household (after a card scan,
	// which shows the household at a glance).
	SupplyGive Action = "supply.give"
	// SupplyReceive records a donation received at a place.
	SupplyReceive Action = "supply.receive"
	// SupplyManage defines items and their entitlement rules, and gives
	// past an entitlement (an override, flagged for review).
	SupplyManage Action = "supply.manage"
)

// Who handles supplies. Volunteers run the distribution tables and take in
// donations; the rules (what a household is entitled to) are the
// coordinators' decision, because changing them changes what every node
// refuses. Settling a double distribution is conflicts.resolve, a
// coordinator's. Legal and medical staff have no part in distribution and
// so no access: the history ties households to places and times.
var supplyActions = map[Role][]Action{
	Coordinator: {SupplyRead, SupplyGive, SupplyReceive, SupplyManage},
	Volunteer:   {SupplyRead, SupplyGive, SupplyReceive},
}

func init() {
	for r, as := range supplyActions {
		for _, a := range as {
			actions[r][a] = true
		}
	}
}
