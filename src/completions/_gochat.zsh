#compdef gochat
# @banner@ what this file is, and that it is generated
# Install as _gochat in a directory on $fpath (before compinit runs), or source it.

_gochat() {
    local curcontext=$curcontext state state_descr line ret=1
    typeset -A opt_args
    # @options@ _arguments for gochat's own options, then the command
    [[ $state == command ]] || return ret
    curcontext=${curcontext%:*:*}:gochat-$words[1]:
    case $words[1] in
        # @commands@ one arm per command: _arguments for its options and arguments
    esac
    return ret
}

_gochat_commands() {
    local -a commands=(
        # @descriptions@ 'command:what it does', one per command
    )
    _describe -t commands 'gochat command' commands
}

# Autoloaded from $fpath, this file is the body of _gochat: define, then complete. Sourced,
# it registers the function instead.
if [[ $funcstack[1] == _gochat ]]; then
    _gochat "$@"
else
    compdef _gochat gochat
fi
