#!/bin/bash
source ./lib/common.sh
. "$HOME/.profile"
readonly MAX=10

build() {
  make -j"$MAX" && deploy "$1"
}

function deploy {
  rsync -a out/ "$1"
}

build "$@"
