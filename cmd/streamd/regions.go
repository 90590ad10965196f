package main

import (
	"fmt"
	"strings"
)

// region is one 8x8 Event Streaming region: its labels, its host (empty
// while 8x8 lists it as pending) and the Contact Center clusters it serves.
//
// Source: 8x8's Event Streaming connection guide, regional hostnames and
// the cluster → region picker (shared/docs/8x8-event-streaming.md §1.2).
type region struct {
	names    []string // the label first, then other spellings
	host     string   // "" while pending
	clusters []string // entries "NA7" or ranges "NA7-NA10"
}

var eightByEightRegions = []region{
	{[]string{"UK3", "EUW2"}, "pulsar-ws-euw2.8x8.com", []string{"EU4-EU14"}},
	{[]string{"US1", "USE1"}, "pulsar-ws-use1.8x8.com", []string{"NA1-NA6", "NA11-NA16", "SB1"}},
	{[]string{"US2", "USW2"}, "pulsar-ws-usw2.8x8.com", []string{"NA7-NA10", "NA17-NA20", "NA27-NA30", "NA37-NA39"}},
	{[]string{"HK1"}, "", []string{"AP1"}},
	{[]string{"HK2"}, "", []string{"AP21"}},
	{[]string{"LH1"}, "", []string{"EU21"}},
	{[]string{"ON1"}, "", []string{"BC1-BC3"}},
	{[]string{"PA1"}, "", []string{"EU31"}},
	{[]string{"SK1"}, "", []string{"CA1-CA2"}},
	{[]string{"SY1"}, "", []string{"AU1-AU2"}},
}

// resolveRegion maps STREAMD_REGION, an 8x8 region label (UK3, US1, US2,
// or the hostname codes EUW2, USE1, USW2) or a Contact Center cluster (NA7,
// "vcc-na7" or "vcc-na7.8x8.com"), to the base URL "wss://host". note says
// how a cluster was resolved ("" for a region label). A region 8x8 lists
// as pending, or a name that is neither, is a *configError.
func resolveRegion(name string) (endpoint, note string, err error) {
	key := strings.ToUpper(strings.TrimSpace(name))
	key = strings.TrimSuffix(strings.TrimPrefix(key, "VCC-"), ".8X8.COM")
	for _, r := range eightByEightRegions {
		cluster := ""
		if !containsFold(r.names, key) {
			if !r.serves(key) {
				continue
			}
			cluster = key
		}

		if r.host == "" {
			return "", "", badVar("REGION", name, pendingMsg(r, cluster))
		}

		if cluster != "" {
			note = fmt.Sprintf("Contact Center cluster %s is served by 8x8 region %s (%s)", cluster, r.names[0], r.host)
		}

		return "wss://" + r.host, note, nil
	}

	return "", "", badVar("REGION", name, "want an 8x8 region (UK3, US1, US2) or your Contact Center cluster "+
		"(the NA7 in vcc-na7.8x8.com, see Configuration Manager); or set STREAMD_ENDPOINT")
}

func pendingMsg(r region, cluster string) string {
	what := "8x8 region " + r.names[0]
	if cluster != "" {
		what = "Contact Center cluster " + cluster + " belongs to 8x8 region " + r.names[0] + ", which"
	}
	return what + " is listed by 8x8 as pending: it has no Event Streaming host yet; ask 8x8 Support, or set STREAMD_ENDPOINT if they gave you one"
}

// serves reports whether r serves the cluster named key ("NA7").
func (r region) serves(key string) bool {
	prefix, num, ok := splitCluster(key)
	if !ok {
		return false
	}

	for _, c := range r.clusters {
		lo, hi, isRange := strings.Cut(c, "-")
		if !isRange {
			hi = lo
		}

		lp, ln, _ := splitCluster(lo)
		_, hn, _ := splitCluster(hi)
		if prefix == lp && num >= ln && num <= hn {
			return true
		}
	}

	return false
}

// splitCluster splits "NA17" into "NA" and 17.
func splitCluster(s string) (prefix string, num int, ok bool) {
	i := strings.IndexAny(s, "0123456789")
	if i <= 0 {
		return "", 0, false
	}
	if _, err := fmt.Sscanf(s[i:], "%d", &num); err != nil || fmt.Sprint(num) != s[i:] {
		return "", 0, false
	}
	return s[:i], num, true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
