# @banner@ what this file is, and that it is generated

# The command is the first word after gochat that is not an option (gochat's own options
# take no value).
function __gochat_command
    for word in (commandline -opc)[2..-1]
        if not string match -q -- '-*' $word
            echo $word
            return
        end
    end
end

function __gochat_command_is -a want
    set -l command (__gochat_command)
    test "$command" = "$want"
end

# True when the word being completed is positional argument INDEX (from 0) of COMMAND.
# The rest of the arguments are the command's options that take a value.
function __gochat_positional_is -a command index
    set -l value_options $argv[3..-1]
    set -l words (commandline -opc)[2..-1]
    set -l count 0
    set -l seen_command 0
    set -l skip 0
    set -l options_done 0
    for word in $words
        if test $skip = 1
            set skip 0
        else if test $seen_command = 0
            if not string match -q -- '-*' $word
                test $word = $command; or return 1
                set seen_command 1
            end
        else if test $options_done = 0; and test $word = --
            set options_done 1
        else if test $options_done = 0; and contains -- $word $value_options
            set skip 1
        else if test $options_done = 1; or not string match -q -- '-*' $word
            set count (math $count + 1)
        end
    end
    test $seen_command = 1; and test $skip = 0; and test $count = $index
end

# No gochat argument is a file.
complete -c gochat -f

# @completions@ one complete line per option, command and fixed choice of each command
