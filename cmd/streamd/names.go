package main

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"
)

// knownVars is every STREAMD_ variable some command reads: the envconfig
// tags of Config and of emulatorConfig.
func knownVars() []string {
	var names []string
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[emulatorConfig]()} {
		for i := range typ.NumField() {
			if name := typ.Field(i).Tag.Get("envconfig"); name != "" && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// checkNames fails with a *configError on the first STREAMD_ variable in
// environ (NAME=value entries) that streamd does not read, naming the
// closest known one: a misspelt STREAMD_SINK would otherwise be ignored
// silently and its default used.
func checkNames(environ []string) error {
	known := knownVars()
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "STREAMD_") || slices.Contains(known, name) {
			continue
		}

		msg := fmt.Sprintf("invalid configuration: unknown variable %s", name)
		if near := closest(name, known); near != "" {
			msg += "; did you mean " + near + "?"
		}

		return &configError{msg: msg + " (`streamd help` lists every variable)"}
	}

	return nil
}

// closest is the known name nearest to name by edit distance, or "" when
// even the nearest differs in more than a third of its characters.
func closest(name string, known []string) string {
	best, bestDist := "", len(name)/3+1
	for _, k := range known {
		if d := levenshtein.ComputeDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}
