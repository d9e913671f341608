package eslsim

import (
	"context"
	"strconv"
	"strings"
)

// apiNotFound is FreeSWITCH's body for an unknown api command. The switch
// returns it for any command it does not implement.
func apiNotFound(cmd string) string { return "-ERR " + cmd + " Command not found!\n" }

// globals are the global variables global_getvar reads (the lab's).
var globals = map[string]string{"hold_music": "local_stream://default"}

// runAPI answers the api commands that do not concern channels and hands
// every other one to the switch. It also fires the API event FreeSWITCH
// fires for each api execution (seen on connections subscribed to ALL).
func (p *protocol) runAPI(ctx context.Context, cmd, arg string) string {
	ev := Event{Headers: []Header{{Name: "Event-Name", Value: "API"}}}
	p.o.Stamp(&ev, "switch_loadable_module.c", "switch_api_execute", 2954)
	ev.Headers = append(ev.Headers, Header{Name: "API-Command", Value: cmd})
	if arg != "" {
		ev.Headers = append(ev.Headers, Header{Name: "API-Command-Argument", Value: arg})
	}
	p.publish(ev)
	up := p.clock.Now().Sub(p.start)
	switch cmd {
	case "status":
		return "UP " + upTime(up) + "\nFreeSWITCH (Version 1.10.12-release  64bit) is ready\n" +
			"0 session(s) since startup\n0 session(s) - peak 0, last 5min 0 \n" +
			"0 session(s) per Sec out of max 500, peak 0, last 5min 0 \n4000 session(s) max\n" +
			"min idle cpu 0.00/95.00\nCurrent Stack Size/Max 240K/8192K\n"
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
	case "uptime":
		return strconv.FormatInt(int64(up.Seconds()), 10) + "\n"
	case "echo":
		return arg
	case "global_getvar":
		return globals[arg]
	case "help":
		return helpText
	case "show":
		if strings.EqualFold(arg, "modules") {
			return modulesText
		}
	}
	return p.sb.api(ctx, cmd, arg)
}

// modulesText is a short `show modules` with the modules the simulator
// stands for (the real list has ~450 rows).
const modulesText = "type,name,ikey,filename\n" +
	"api,bgapi,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,echo,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,originate,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,show,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,status,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,uuid_bridge,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,uuid_kill,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"api,version,mod_commands,/opt/freeswitch/inst/mod/mod_commands.so\n" +
	"application,park,mod_dptools,/opt/freeswitch/inst/mod/mod_dptools.so\n" +
	"application,playback,mod_dptools,/opt/freeswitch/inst/mod/mod_dptools.so\n" +
	"application,socket,mod_event_socket,/opt/freeswitch/inst/mod/mod_event_socket.so\n" +
	"application,three_way,mod_dptools,/opt/freeswitch/inst/mod/mod_dptools.so\n" +
	"endpoint,loopback,mod_loopback,/opt/freeswitch/inst/mod/mod_loopback.so\n" +
	"file,local_stream,mod_local_stream,/opt/freeswitch/inst/mod/mod_local_stream.so\n" +
	"\n14 total.\n"

// helpText is a short `help` in FreeSWITCH's layout
// (name,syntax,description,module per line).
const helpText = "\nValid Commands:\n\n" +
	"echo,<data>,Echo,mod_commands\n" +
	"originate,<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>],Originate a call,mod_commands\n" +
	"show,codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status,Show various reports,mod_commands\n" +
	"status,,Show current status,mod_commands\n" +
	"uuid_bridge,,Bridge call legs,mod_commands\n" +
	"uuid_kill,<uuid> [cause],Kill channel,mod_commands\n" +
	"version,[short],Version,mod_commands\n"
