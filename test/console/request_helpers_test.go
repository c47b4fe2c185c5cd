package console

import (
	"strings"

	"github.com/chromedp/chromedp"
)

// requestThroughForm fills in the Request access form of the console at
// base (consoleURL, or another console's) for an hour in dev's payments,
// submits it and returns the new request's name.
func (b *browser) requestThroughForm(base, reason string) string {
	b.t.Helper()
	b.run("requesting an hour in payments",
		chromedp.Navigate(base+"/request?cluster=dev"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="namespace"][value="payments"]`)),
		chromedp.Click(chromedp.CSS(`input[name="namespace"][value="payments"]`)),
		chromedp.SetValue(chromedp.CSS(`#duration`), "1h"),
		chromedp.SendKeys(chromedp.CSS(`#reason`), reason),
		chromedp.Click(chromedp.CSS(`form.request button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	name := get(b, "reading the new request's name", chromedp.Evaluate[string](`new URL(location.href).searchParams.get('created') || ''`))
	if !strings.HasPrefix(name, "req-") {
		b.t.Fatalf("the request was created as %q", name)
	}
	return name
}
