package validation

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

func TestValidateClusterConsoleQuickCommands(t *testing.T) {
	top := janus.QuickCommand{Name: "top", Command: "top -b -n1"}
	many := func(n int) []janus.QuickCommand {
		var cmds []janus.QuickCommand
		for i := range n {
			cmds = append(cmds, janus.QuickCommand{Name: fmt.Sprintf("cmd %d", i), Command: "date"})
		}
		return cmds
	}
	cases := map[string]struct {
		commands []janus.QuickCommand
		want     []string // "field:type"
	}{
		"none":                     {nil, nil},
		"the design's example":     {[]janus.QuickCommand{top}, nil},
		"a label with spaces":      {[]janus.QuickCommand{{Name: "disk usage", Command: "df -h"}}, nil},
		"a pipeline":               {[]janus.QuickCommand{{Name: "env", Command: "env | sort | grep -v SECRET"}}, nil},
		"twenty":                   {many(MaxQuickCommands), nil},
		"a unicode label":          {[]janus.QuickCommand{{Name: "größe", Command: "du -sh ."}}, nil},
		"twenty-one":               {many(MaxQuickCommands + 1), []string{"spec.console.quickCommands:Too many"}},
		"no name":                  {[]janus.QuickCommand{{Command: "date"}}, []string{"spec.console.quickCommands[0].name:Required value"}},
		"a blank name":             {[]janus.QuickCommand{{Name: "  ", Command: "date"}}, []string{"spec.console.quickCommands[0].name:Required value"}},
		"a padded name":            {[]janus.QuickCommand{{Name: " top", Command: "date"}}, []string{"spec.console.quickCommands[0].name:Invalid value"}},
		"a long name":              {[]janus.QuickCommand{{Name: strings.Repeat("n", MaxQuickCommandName+1), Command: "date"}}, []string{"spec.console.quickCommands[0].name:Too long"}},
		"a name with an escape":    {[]janus.QuickCommand{{Name: "top\x1b[2J", Command: "date"}}, []string{"spec.console.quickCommands[0].name:Invalid value"}},
		"a duplicate name":         {[]janus.QuickCommand{top, {Name: "top", Command: "htop"}}, []string{"spec.console.quickCommands[1].name:Duplicate value"}},
		"no command":               {[]janus.QuickCommand{{Name: "top"}}, []string{"spec.console.quickCommands[0].command:Required value"}},
		"a blank command":          {[]janus.QuickCommand{{Name: "top", Command: " \t"}}, []string{"spec.console.quickCommands[0].command:Required value"}},
		"a second line":            {[]janus.QuickCommand{{Name: "top", Command: "top -b -n1\nrm -rf /"}}, []string{"spec.console.quickCommands[0].command:Invalid value"}},
		"a carriage return":        {[]janus.QuickCommand{{Name: "top", Command: "top\r"}}, []string{"spec.console.quickCommands[0].command:Invalid value"}},
		"a bidirectional override": {[]janus.QuickCommand{{Name: "top", Command: "echo \u202egnp.exe"}}, []string{"spec.console.quickCommands[0].command:Invalid value"}},
		"not UTF-8":                {[]janus.QuickCommand{{Name: "top", Command: "echo \xff"}}, []string{"spec.console.quickCommands[0].command:Invalid value"}},
		"a long command":           {[]janus.QuickCommand{{Name: "top", Command: strings.Repeat("x", MaxQuickCommandLength+1)}}, []string{"spec.console.quickCommands[0].command:Too long"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := &janus.Cluster{Spec: janus.ClusterSpec{Approval: janus.ApprovalPolicy{Required: 1}, Console: janus.ClusterConsole{QuickCommands: tc.commands}}}
			c.Name = "dev"
			var got []string
			for _, e := range ValidateCluster(c) {
				got = append(got, e.Field+":"+e.Type.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateTargetReadOptions(t *testing.T) {
	cases := map[string]struct {
		errs field.ErrorList
		want []string
	}{
		"pods of a namespace":         {ValidateAccessRequestPodsOptions(&janus.AccessRequestPodsOptions{Namespace: "payments"}), nil},
		"pods without a namespace":    {ValidateAccessRequestPodsOptions(&janus.AccessRequestPodsOptions{}), []string{"namespace:Required value"}},
		"pods of a path":              {ValidateAccessRequestPodsOptions(&janus.AccessRequestPodsOptions{Namespace: "payments/../kube-system"}), []string{"namespace:Invalid value"}},
		"events of a namespace":       {ValidateAccessRequestEventsOptions(&janus.AccessRequestEventsOptions{Namespace: "payments"}), nil},
		"events of a pod":             {ValidateAccessRequestEventsOptions(&janus.AccessRequestEventsOptions{Namespace: "payments", Pod: "api-7d9f8.x"}), nil},
		"events without a namespace":  {ValidateAccessRequestEventsOptions(&janus.AccessRequestEventsOptions{Pod: "api"}), []string{"namespace:Required value"}},
		"events of a selector":        {ValidateAccessRequestEventsOptions(&janus.AccessRequestEventsOptions{Namespace: "payments", Pod: "api,involvedObject.kind=Secret"}), []string{"pod:Invalid value"}},
		"events of an uppercase name": {ValidateAccessRequestEventsOptions(&janus.AccessRequestEventsOptions{Namespace: "Payments"}), []string{"namespace:Invalid value"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, e := range tc.errs {
				got = append(got, e.Field+":"+e.Type.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("errors %v, want %v", got, tc.want)
			}
		})
	}
}
