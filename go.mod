module github.com/soc/mcasbot

go 1.26.8

require (
	github.com/caarlos0/env/v11 v11.4.2
	github.com/gorilla/websocket v1.5.3
	github.com/patrickmn/go-cache v2.1.0+incompatible
	github.com/slack-go/slack v0.35.0
	golang.org/x/sync v0.24.0
)
