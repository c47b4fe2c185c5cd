package validation

import (
	"net/url"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// ValidateCluster checks a Cluster registration.
func ValidateCluster(c *janus.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&c.ObjectMeta, false, apimachineryvalidation.NameIsDNSLabel, field.NewPath("metadata"))
	return append(allErrs, validateClusterSpec(&c.Spec, field.NewPath("spec"))...)
}

// AgentSubresource is the subresource through which spec.agent changes.
const AgentSubresource = "clusters/agent"

// ValidateClusterUpdate checks an update of a Cluster's spec. spec.agent is
// agent trust — whoever changes it can become the cluster's agent and see
// every session — so it is its own permission: a plain update may not touch
// it.
func ValidateClusterUpdate(newC, oldC *janus.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newC.ObjectMeta, &oldC.ObjectMeta, field.NewPath("metadata"))
	if !apiequality.Semantic.DeepEqual(newC.Spec.Agent, oldC.Spec.Agent) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "agent"),
			"agent trust changes only through the "+AgentSubresource+" subresource (RBAC verb update on "+AgentSubresource+")"))
	}
	return append(allErrs, validateClusterSpec(&newC.Spec, field.NewPath("spec"))...)
}

// ValidateClusterAgentUpdate checks a change of agent trust through the
// clusters/agent subresource.
func ValidateClusterAgentUpdate(newC, oldC *janus.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newC.ObjectMeta, &oldC.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateClusterSpec(&newC.Spec, field.NewPath("spec"))...)
}

// ValidateClusterStatusUpdate checks a status report of a Cluster's agent.
func ValidateClusterStatusUpdate(newC, oldC *janus.Cluster) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newC.ObjectMeta, &oldC.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	for i, ns := range newC.Status.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespaces").Index(i), ns, msg))
		}
	}
	return append(allErrs, metav1validation.ValidateConditions(newC.Status.Conditions, fldPath.Child("conditions"))...)
}

func validateClusterSpec(spec *janus.ClusterSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateTerminalText(spec.DisplayName, fldPath.Child("displayName"))...)
	if len(spec.DisplayName) > 256 {
		allErrs = append(allErrs, field.TooLongCharacters(fldPath.Child("displayName"), spec.DisplayName, 256))
	}
	agentPath := fldPath.Child("agent")
	if iss := spec.Agent.Issuer; iss != "" {
		if u, err := url.Parse(iss); err != nil || u.Scheme != "https" || u.Host == "" {
			allErrs = append(allErrs, field.Invalid(agentPath.Child("issuer"), iss, "must be an https URL"))
		}
	}
	if sa := spec.Agent.ServiceAccount; sa != "" {
		ns, name, ok := strings.Cut(sa, "/")
		if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
			allErrs = append(allErrs, field.Invalid(agentPath.Child("serviceAccount"), sa, "must be <namespace>/<name>"))
		}
	}
	for i, ns := range spec.ExcludedNamespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("excludedNamespaces").Index(i), ns, msg))
		}
	}
	if d := spec.MaxDuration; d != nil && d.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxDuration"), d.Duration.String(), "must be positive"))
	}
	if r := spec.Approval.Required; r < 1 || r > 10 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("approval", "required"), r, "must be between 1 and 10"))
	}
	return append(allErrs, validateClusterConsole(&spec.Console, fldPath.Child("console"))...)
}
