package testenv

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const clusterName = "janus-testbed"

// KubeconfigFor is the path of the kubeconfig the demo user authenticates
// with (a bearer token from the kube-apiserver's static token file), or ""
// for someone who is not a demo user. StartTestbed writes them all.
func (tb *Testbed) KubeconfigFor(user string) string {
	if _, ok := UserNamed(user); !ok {
		return ""
	}
	return filepath.Join(tb.cfg.WorkDir, user+".kubeconfig")
}

// WriteKubeconfig writes the demo user's kubeconfig to path, readable only
// by its owner: it holds the user's token.
func (tb *Testbed) WriteKubeconfig(user, path string) error {
	token, ok := tb.pki.tokens[user]
	if !ok {
		return fmt.Errorf("writing kubeconfig: %q is not a demo user", user)
	}
	return writeKubeconfig(path, tb.serverURL, tb.pki.cluster.CA.CertPEM, user, &clientcmdapi.AuthInfo{Token: token})
}

func (tb *Testbed) writeUserKubeconfigs() error {
	for _, u := range Users {
		if err := tb.WriteKubeconfig(u.Name, tb.KubeconfigFor(u.Name)); err != nil {
			return err
		}
	}
	return nil
}

// RESTConfigFor is a client configuration for the demo user, for tests
// that talk to the API from Go rather than through kubectl.
func (tb *Testbed) RESTConfigFor(user string) (*rest.Config, error) {
	token, ok := tb.pki.tokens[user]
	if !ok {
		return nil, fmt.Errorf("%q is not a demo user", user)
	}
	return &rest.Config{
		Host:            tb.serverURL,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: tb.pki.cluster.CA.CertPEM},
		QPS:             -1,
	}, nil
}

// bootstrapConfig authenticates as the testbed itself: a client
// certificate in system:masters.
func (tb *Testbed) bootstrapConfig() *rest.Config {
	return &rest.Config{
		Host: tb.serverURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   tb.pki.cluster.CA.CertPEM,
			CertFile: tb.pki.cluster.AdminCertFile,
			KeyFile:  tb.pki.cluster.AdminKeyFile,
		},
		QPS:            -1,
		WarningHandler: rest.NoWarnings{},
	}
}

func clientCertAuth(certFile, keyFile string) *clientcmdapi.AuthInfo {
	return &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
}

// writeKubeconfig writes a one-context kubeconfig, mode 0600.
func writeKubeconfig(path, server string, caPEM []byte, user string, auth *clientcmdapi.AuthInfo) error {
	contextName := user + "@" + clusterName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[clusterName] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = auth
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: clusterName, AuthInfo: user}
	cfg.CurrentContext = contextName
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
