package kubectljanus

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/generated/clientset/versioned/scheme"
)

// tableAccept asks the server for its own rendering of AccessRequests
// (NAME REQUESTER CLUSTER NAMESPACES PHASE EXPIRES AGE), as kubectl get does,
// so the plugin and kubectl always show the same columns.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// requestTable is the server-side table of one request (name set) or of
// the requests opts selects.
func (c *clients) requestTable(ctx context.Context, name string, opts metav1.ListOptions) (*metav1.Table, error) {
	req := c.janus.JanusV1alpha1().RESTClient().Get().
		Resource("accessrequests").
		SetHeader("Accept", tableAccept)
	if name != "" {
		req = req.Name(name)
	} else {
		req = req.VersionedParams(&opts, scheme.ParameterCodec)
	}
	result := req.Do(ctx)
	// Error, unlike Raw, decodes the server's Status (403, 404, ...).
	if err := result.Error(); err != nil {
		return nil, err
	}
	raw, err := result.Raw()
	if err != nil {
		return nil, err
	}
	table := &metav1.Table{}
	if err := json.Unmarshal(raw, table); err != nil {
		return nil, fmt.Errorf("decoding the server's table of access requests: %w", err)
	}
	if table.Kind != "Table" {
		return nil, fmt.Errorf("the server answered with %q instead of a Table of access requests", table.Kind)
	}
	return table, nil
}
