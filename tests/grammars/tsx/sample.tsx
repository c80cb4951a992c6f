import React from "react";
import { Button } from "./button";

interface Props { label: string; onClick(): void }

export function Toolbar({ label, onClick }: Props) {
  return <div><Button label={label} onClick={onClick} /><Icon /></div>;
}

export default class Panel extends React.Component<Props> {
  render() { return <Toolbar label="x" onClick={() => log("hi")} />; }
}
