package store

// SetBeforeDropForTest runs f between a prune choosing alerts and deleting
// them (nil: nothing).
func SetBeforeDropForTest(f func()) { testBeforeDrop = f }
