package signin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// GitHubConfig signs people in with GitHub or GitHub Enterprise Server:
// OAuth2 (GitHub issues no ID token), then the REST API for who they are.
type GitHubConfig struct {
	// URL is GitHub's web address: https://github.com, or a GitHub
	// Enterprise Server's.
	URL string
	// APIURL is the REST API's address; empty for https://api.github.com
	// with github.com and <URL>/api/v3 otherwise.
	APIURL string
	// Orgs, when set, let in only members of one of these organizations,
	// and only their teams become groups.
	Orgs []string
	// UsernamePrefix is put before the login, GroupsPrefix before every
	// group ("org" and "org:team"); "-" means none.
	UsernamePrefix string
	GroupsPrefix   string
}

// githubScopes are what the console asks for: the profile, the verified
// e-mail addresses, and organization and team membership.
var githubScopes = []string{"read:user", "user:email", "read:org"}

// githubPages bounds how many pages of organizations or teams are read.
const githubPages = 10

type githubProvider struct {
	cfg    GitHubConfig
	api    *url.URL
	oauth  oauth2.Config
	client *http.Client
}

func newGitHubProvider(cfg GitHubConfig, clientID, clientSecret, redirect string, client *http.Client) (*githubProvider, error) {
	if cfg.URL == "" {
		cfg.URL = "https://github.com"
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("the GitHub URL %q is not an absolute URL", cfg.URL)
	}
	apiURL := cfg.APIURL
	switch {
	case apiURL != "":
	case base.Host == "github.com":
		apiURL = "https://api.github.com"
	default:
		apiURL = base.String() + "/api/v3"
	}
	api, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
	if err != nil || api.Host == "" {
		return nil, fmt.Errorf("the GitHub API URL %q is not an absolute URL", apiURL)
	}
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &githubProvider{
		cfg: cfg,
		api: api,
		oauth: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: clientSecret,
			Endpoint: oauth2.Endpoint{
				AuthURL:   base.String() + "/login/oauth/authorize",
				TokenURL:  base.String() + "/login/oauth/access_token",
				AuthStyle: oauth2.AuthStyleInParams,
			},
			RedirectURL: redirect,
			Scopes:      githubScopes,
		},
		client: client,
	}, nil
}

func (p *githubProvider) authCodeURL(state, _, pkceVerifier string) string {
	return p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(pkceVerifier))
}

// githubUser, githubEmail, githubOrg and githubTeam are the fields of the
// REST API's answers the console reads.
type githubUser struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type githubOrg struct {
	Login string `json:"login"`
}

type githubTeam struct {
	Slug         string    `json:"slug"`
	Organization githubOrg `json:"organization"`
}

func (p *githubProvider) identity(ctx context.Context, code, pkceVerifier, _ string) (Identity, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	token, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "exchanging the code with GitHub failed: %v", err)
	}
	var user githubUser
	if err := p.get(ctx, token.AccessToken, "/user", &user); err != nil {
		return Identity{}, err
	}
	if user.Login == "" || user.ID == 0 {
		return Identity{}, refuse(http.StatusBadGateway, "GitHub's /user answer has no login or id")
	}
	var emails []githubEmail
	if err := p.get(ctx, token.AccessToken, "/user/emails", &emails); err != nil {
		return Identity{}, err
	}
	orgs, err := listAll[githubOrg](ctx, p, token.AccessToken, "/user/orgs")
	if err != nil {
		return Identity{}, err
	}
	teams, err := listAll[githubTeam](ctx, p, token.AccessToken, "/user/teams")
	if err != nil {
		return Identity{}, err
	}
	return p.identityOf(user, emails, orgs, teams)
}

// identityOf maps what GitHub said into an Identity, refusing people
// outside the allowed organizations.
func (p *githubProvider) identityOf(user githubUser, emails []githubEmail, orgs []githubOrg, teams []githubTeam) (Identity, error) {
	allowed := func(org string) bool {
		return len(p.cfg.Orgs) == 0 || slices.ContainsFunc(p.cfg.Orgs, func(o string) bool { return strings.EqualFold(o, org) })
	}
	var groups []string
	for _, o := range orgs {
		if allowed(o.Login) {
			groups = append(groups, prefixed(p.cfg.GroupsPrefix, o.Login))
		}
	}
	if len(p.cfg.Orgs) > 0 && len(groups) == 0 {
		return Identity{}, refuse(http.StatusForbidden, "GitHub user %q is not a member of %s", user.Login, strings.Join(p.cfg.Orgs, " or "))
	}
	for _, t := range teams {
		if allowed(t.Organization.Login) && t.Slug != "" {
			groups = append(groups, prefixed(p.cfg.GroupsPrefix, t.Organization.Login+":"+t.Slug))
		}
	}
	id := Identity{
		Username: prefixed(p.cfg.UsernamePrefix, user.Login),
		UID:      strconv.FormatInt(user.ID, 10),
		Groups:   groups,
	}
	// Only a verified address says who someone is; the primary one first.
	slices.SortStableFunc(emails, func(a, b githubEmail) int {
		switch {
		case a.Primary == b.Primary:
			return 0
		case a.Primary:
			return -1
		}
		return 1
	})
	for _, e := range emails {
		if e.Verified {
			id.Email = e.Email
			break
		}
	}
	return id, nil
}

// prefixed puts prefix before s; "-" means no prefix.
func prefixed(prefix, s string) string {
	if prefix == "-" {
		return s
	}
	return prefix + s
}

// get reads one answer of GitHub's REST API at path into out.
func (p *githubProvider) get(ctx context.Context, token, path string, out any) error {
	_, err := p.getPage(ctx, token, p.api.String()+path, out)
	return err
}

// getPage reads the answer at address into out and returns the next
// page's address from the Link header, if any.
func (p *githubProvider) getPage(ctx context.Context, token, address string, out any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return "", refuse(http.StatusBadGateway, "asking GitHub: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := p.client.Do(req)
	if err != nil {
		return "", refuse(http.StatusBadGateway, "asking GitHub for %s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", refuse(http.StatusBadGateway, "reading GitHub's answer for %s: %v", req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return "", refuse(http.StatusBadGateway, "GitHub answered %s for %s: %s", resp.Status, req.URL.Path, e.Message)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return "", refuse(http.StatusBadGateway, "decoding GitHub's answer for %s: %v", req.URL.Path, err)
	}
	return nextPage(resp.Header.Get("Link"), p.api), nil
}

// listAll reads every page (up to githubPages) of a list at path.
func listAll[T any](ctx context.Context, p *githubProvider, token, path string) ([]T, error) {
	var all []T
	address := p.api.String() + path + "?per_page=100"
	for range githubPages {
		var page []T
		next, err := p.getPage(ctx, token, address, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		address = next
	}
	return all, nil
}

// nextPage returns the rel="next" address of a Link header, only if it is
// on the API's own host (a Link elsewhere would carry the token away).
func nextPage(link string, api *url.URL) string {
	for _, part := range strings.Split(link, ",") {
		fields := strings.Split(part, ";")
		if len(fields) < 2 {
			continue
		}
		target := strings.Trim(strings.TrimSpace(fields[0]), "<>")
		isNext := false
		for _, f := range fields[1:] {
			if strings.TrimSpace(f) == `rel="next"` {
				isNext = true
			}
		}
		if !isNext {
			continue
		}
		u, err := url.Parse(target)
		if err != nil || u.Scheme != api.Scheme || u.Host != api.Host {
			return ""
		}
		return u.String()
	}
	return ""
}
