// Package engine is the one export engine under the command line and the
// desktop app: it builds the HTTP clients and export runners from a
// registration, and holds the control actions both front ends offer.
package engine
