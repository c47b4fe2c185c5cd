package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultDuration is the duration of a request that does not name one.
const DefaultDuration = time.Hour

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_AccessRequestSpec fills in the requested duration.
func SetDefaults_AccessRequestSpec(obj *AccessRequestSpec) {
	if obj.Duration.Duration == 0 {
		obj.Duration = metav1.Duration{Duration: DefaultDuration}
	}
}

// SetDefaults_ApprovalPolicy requires one approver unless told otherwise.
func SetDefaults_ApprovalPolicy(obj *ApprovalPolicy) {
	if obj.Required == 0 {
		obj.Required = 1
	}
}

// SetDefaults_AccessRequestExecOptions attaches stdout by default, as
// kubectl exec does.
func SetDefaults_AccessRequestExecOptions(obj *AccessRequestExecOptions) {
	if !obj.Stdin && !obj.Stderr && !obj.Stdout {
		obj.Stdout = true
	}
}
