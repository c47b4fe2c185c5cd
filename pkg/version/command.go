package version

import "github.com/spf13/cobra"

// AddFlag gives cmd a --version flag that prints "<command> <String()>"
// and exits 0 before any flag is validated or anything is started. It uses
// cobra's own version flag, which cobra checks ahead of every run hook.
func AddFlag(cmd *cobra.Command) {
	cmd.Version = String()
	cmd.SetVersionTemplate("{{.DisplayName}} {{.Version}}\n")
	// cobra adds the flag lazily; adding it now makes it show in --help
	// next to the command's own flags, with a usage that says what it does.
	cmd.Flags().Bool("version", false, "Print the version, commit and build date of this binary and exit.")
}
