package kubectljanus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/util/term"

	"github.com/infroware/janus/pkg/recording"
)

type playOptions struct {
	*Options
	name   string
	raw    bool
	output string
	player player
	// terminal tells whether out is a terminal; a test sets it.
	terminal func(any) bool
}

func newPlayCommand(o *Options) *cobra.Command {
	p := &playOptions{Options: o, terminal: printers.IsTerminal, player: player{now: time.Now, sleep: sleepContext}}
	cmd := &cobra.Command{
		Use:   "play SESSION [--speed N] [--idle-limit DURATION] [--raw | -o cast]",
		Short: "Replay a session's recording in your terminal, with its timing",
		Long: `Replay the recording of a session as it happened: what the session's
terminal showed is written to yours as it was, with the same pauses, as
asciinema play does. Janus's notices (a revocation, the end of the grant)
are shown dimmed on lines of their own, as [janus: ...]. Keystrokes are never
replayed, and your terminal keeps its size.

--speed divides every pause and --idle-limit caps every pause (after
--speed). When standard output is not a terminal the output is written at
once, without pauses, so that it can be piped or saved as text. --raw (or
-o cast) writes the recording itself, the asciicast v2 document, e.g. for
asciinema play. Ctrl+C stops the replay.`,
		Example: `  kubectl janus play alice-x7k2p-4f2a9 --speed 2 --idle-limit 2s
  kubectl janus play alice-x7k2p-4f2a9 --raw > session.cast`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSessionNames(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := p.complete(args); err != nil {
				return err
			}
			return p.run(cmd.Context())
		},
	}
	cmd.Flags().Float64Var(&p.player.speed, "speed", 1, "Play this many times faster (0.5 for half speed).")
	cmd.Flags().DurationVar(&p.player.idleLimit, "idle-limit", 0, "Cap every pause at this long, e.g. 2s; 0 keeps the pauses.")
	cmd.Flags().BoolVar(&p.raw, "raw", false, "Write the asciicast v2 recording itself instead of playing it.")
	cmd.Flags().StringVarP(&p.output, "output", "o", "", "cast: the same as --raw.")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]cobra.Completion{"cast"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (p *playOptions) complete(args []string) error {
	p.name = args[0]
	switch p.output {
	case "":
	case "cast":
		p.raw = true
	default:
		return fmt.Errorf("--output %q: play writes only cast, the asciicast v2 document (or leave -o out to play it)", p.output)
	}
	if p.player.speed <= 0 {
		return fmt.Errorf("--speed must be more than 0, not %g", p.player.speed)
	}
	if p.player.idleLimit < 0 {
		return fmt.Errorf("--idle-limit must not be negative, not %s", p.player.idleLimit)
	}
	return nil
}

func (p *playOptions) run(ctx context.Context) error {
	c, err := p.clients()
	if err != nil {
		return err
	}
	stream, err := c.sessionSubresource(p.name, "recording").Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	if p.raw {
		if _, err := io.Copy(p.Out, stream); err != nil && ctx.Err() == nil {
			return fmt.Errorf("reading the recording of session %s: %w", p.name, err)
		}
		return nil
	}
	// The whole recording is read before the replay: kube-apiserver cuts a
	// request to sessions/recording after its --request-timeout, and a
	// replay that kept the download open for minutes would lose its end.
	doc, err := io.ReadAll(stream)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("reading the recording of session %s (%d bytes received): %w", p.name, len(doc), err)
	}
	s := &screen{out: p.Out, terminal: p.terminal(p.Out)}
	// On a terminal the pauses are kept; elsewhere nobody watches them.
	p.player.paced = s.terminal
	p.player.resized = resizeNotice(p.Out, p.ErrOut)
	err = p.player.play(ctx, bytes.NewReader(doc), s)
	if ctx.Err() != nil {
		// Ctrl+C: the replay stops where it was, and that is no failure.
		return nil
	}
	if err != nil {
		return fmt.Errorf("playing the recording of session %s: %w", p.name, err)
	}
	return nil
}

// player shows an asciicast document on a screen, an event as soon as it
// is read, or paced: with the recording's pauses, divided by speed and
// capped at idleLimit, timed from the start of the replay so that slow
// writes do not add up.
type player struct {
	paced     bool
	speed     float64
	idleLimit time.Duration
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	// resized, when set, is given each resize event's COLSxROWS.
	resized func(string)
}

func (p *player) play(ctx context.Context, doc io.Reader, s *screen) error {
	cast := newCastReader(doc)
	if _, err := cast.header(); err != nil {
		return err
	}
	defer s.finish()
	var (
		start time.Time
		// at is where the replay is, and last the recording's time of the
		// last event shown.
		at   time.Duration
		last float64
	)
	if p.paced {
		start = p.now()
	}
	for {
		ev, err := cast.event()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Code == recording.CodeResize && p.resized != nil {
			p.resized(string(ev.Data))
		}
		// Only what is shown is waited for: a keystroke between two lines
		// of output must not split their pause in two.
		if !visible(ev) {
			continue
		}
		if p.paced {
			at += p.pause(ev.Time - last)
			if wait := start.Add(at).Sub(p.now()); wait > 0 {
				if err := p.sleep(ctx, wait); err != nil {
					return err
				}
			}
		}
		last = max(last, ev.Time)
		if err := s.show(ev); err != nil {
			return err
		}
	}
}

// pause is how long the replay waits for a gap of seconds in the
// recording.
func (p *player) pause(seconds float64) time.Duration {
	if seconds <= 0 {
		return 0
	}
	d := time.Duration(seconds / p.speed * float64(time.Second))
	if p.idleLimit > 0 && d > p.idleLimit {
		d = p.idleLimit
	}
	return d
}

// resizeNotice says on errOut, once, when the session's terminal (its
// size as a resize event gives it, COLSxROWS) was larger than the
// terminal out is, whose replay then wraps. It is nil when out is no
// terminal.
func resizeNotice(out, errOut io.Writer) func(string) {
	tty := term.TTY{Out: out}
	if !tty.IsTerminalOut() {
		return nil
	}
	told := false
	return func(resize string) {
		var cols, rows uint16
		if _, err := fmt.Sscanf(resize, "%dx%d", &cols, &rows); err != nil || told {
			return
		}
		size := tty.GetSize()
		if size == nil || (size.Width >= cols && size.Height >= rows) {
			return
		}
		told = true
		fmt.Fprintf(errOut, "The session's terminal was %dx%d, yours is %dx%d: the replay may wrap.\n", cols, rows, size.Width, size.Height)
	}
}

// sleepContext waits d, or until ctx is done.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
