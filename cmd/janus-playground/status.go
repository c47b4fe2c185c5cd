package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infroware/janus/internal/testenv"
)

// status shows whether the playground runs, each process, and whether the
// kube-apiserver serves the Janus API; it fails if anything is down.
func status(l layout) error {
	st, err := readState(l.stateFile())
	if err != nil {
		return err
	}
	if st == nil {
		entries, _ := readPIDs(l.pidsFile())
		if len(entries) > 0 && entries[0].Running() {
			fmt.Printf("The playground is starting (daemon pid %d); see %s.\n", entries[0].PID, display(l.daemonLog()))
			return nil
		}
		fmt.Println("The playground is not running. Start it with: make up")
		return nil
	}

	fmt.Printf("The playground has been up since %s.\n\n", st.StartedAt.Format(time.DateTime))
	var problems []error
	for _, p := range append([]testenv.ProcessInfo{daemonInfo(l, st)}, st.Processes...) {
		state := "running"
		if !p.Running() {
			state = "NOT RUNNING"
			problems = append(problems, fmt.Errorf("%s (pid %d) is not running", p.Name, p.PID))
		}
		fmt.Printf("  %-24s pid %-8d %s\n", p.Name, p.PID, state)
	}
	if err := checkJanusServed(l); err != nil {
		problems = append(problems, err)
		fmt.Printf("  %-24s %v\n", "janus.infroware.io", err)
	} else {
		fmt.Printf("  %-24s served through the kube-apiserver\n", "janus.infroware.io")
	}
	for _, c := range consoleChecks(st) {
		if err := c.check(); err != nil {
			problems = append(problems, err)
			fmt.Printf("  %-24s %v\n", c.name, err)
		} else {
			fmt.Printf("  %-24s %s\n", c.name, c.ok)
		}
	}
	fmt.Println()
	if len(problems) > 0 {
		fmt.Printf("Logs are in %s; restart with: make down && make up\n", display(l.logDir()))
		return errors.Join(problems...)
	}
	printHints(os.Stdout, l, st)
	return nil
}

// checkJanusServed asks the kube-apiserver, as admin, for the Janus API's
// discovery document: it is served only if the aggregator can reach
// janus-apiserver.
func checkJanusServed(l layout) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", l.kubeconfig("admin"))
	if err != nil {
		return fmt.Errorf("reading the admin kubeconfig: %w", err)
	}
	cfg.Timeout = 5 * time.Second
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	if _, err := client.ServerResourcesForGroupVersion("janus.infroware.io/v1alpha1"); err != nil {
		return fmt.Errorf("not served: %w", err)
	}
	return nil
}

type consoleCheck struct {
	name, ok string
	check    func() error
}

// consoleChecks ask the console, which runs inside the daemon, whether it
// serves, and the OpenID provider for its discovery document.
func consoleChecks(st *state) []consoleCheck {
	client := &http.Client{Timeout: 5 * time.Second}
	discovery := st.ProviderIssuer + "/.well-known/openid-configuration"
	return []consoleCheck{
		{"janus-console", "serves " + st.ConsoleURL, func() error { return getOK(client, st.ConsoleURL+"/healthz") }},
		{"OpenID provider", "serves " + discovery, func() error { return getOK(client, discovery) }},
	}
}

func getOK(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("not serving: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s answered %s", url, resp.Status)
	}
	return nil
}
