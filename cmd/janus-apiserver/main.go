package main

import (
	_ "github.com/k3s-io/kine/pkg/server"
	_ "go.etcd.io/etcd/client/v3"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "k8s.io/apiserver/pkg/server"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/component-base/cli"
	_ "k8s.io/kube-openapi/pkg/common"
	_ "github.com/spf13/cobra"
	_ "github.com/jackc/pgx/v5"
)

func main() {}
