// Package cookie seals values into browser cookies with AES-256-GCM: the
// browser can neither read nor change them. Keys come from a file, one per
// line; the first seals, every key opens, so keys rotate by putting a new
// one first and dropping the old one after the longest session lifetime.
package cookie
