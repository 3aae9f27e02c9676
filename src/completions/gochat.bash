# @banner@ what this file is, and that it is generated

# The command is the first word after gochat that is not an option (gochat's own options
# take no value). After it: an option's value is the next word, "--" ends the options, and
# ":" is rejoined to its address (bash splits words at ":").
_gochat() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local command="" options="" values="" commands="" choices="" word
    local -i i=1 positional=0 after_colon=0 options_done=0
    while ((i < COMP_CWORD)); do
        word=${COMP_WORDS[i]}
        i+=1
        if [[ $word != -* ]]; then
            command=$word
            break
        fi
    done
    case $command in
        "")
            # @top@ gochat's own options, and the commands
            ;;
        # @options@ one arm per command: its options, and those of them that take a value
        *) return 0 ;;
    esac
    COMPREPLY=()
    if [[ -n $command ]]; then
        while ((i < COMP_CWORD)); do
            word=${COMP_WORDS[i]}
            i+=1
            if [[ -n $word && -z ${word//:/} ]]; then
                after_colon=1
            elif ((after_colon)); then
                after_colon=0
            elif ((!options_done)) && [[ $word == -- ]]; then
                options_done=1
            elif ((!options_done)) && [[ " $values " == *" $word "* ]]; then
                i+=1
            elif ((options_done)) || [[ $word != -* ]]; then
                positional+=1
            fi
        done
        if ((!options_done)) && [[ " $values " == *" $prev "* ]]; then
            return 0
        fi
        if [[ $cur == *:* || -n $prev && -z ${prev//:/} ]]; then
            return 0
        fi
    fi
    case "$command $positional" in
        # @choices@ one arm per positional argument that has a fixed list of words
        *) choices=$commands ;;
    esac
    if [[ $cur == -* ]] && ((!options_done)); then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    elif [[ -n $choices ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$choices" -- "$cur")
    elif [[ -z $cur && -n $command ]] && ((!options_done)); then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    fi
    return 0
}

complete -F _gochat gochat
